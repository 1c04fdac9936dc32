/** STO-03: storage pools listed with capacity and usage. */
import { describe } from 'vitest';
import { currentRun, requirement } from './harness.js';

describe('storage', () => {
  requirement(['STO-03'], 'storage pools listed with capacity and usage', async (ctx) => {
    const { t, checks: c } = ctx;
    const pools = await t.driver.storagePools();
    c.ok('pools listed', pools.length > 0);
    for (const p of pools.filter((x) => x.active)) {
      c.ok(
        `${p.name}: capacity, allocation and available`,
        p.capacityBytes > 0 && p.allocationBytes >= 0 && p.availableBytes > 0,
        JSON.stringify(p),
      );
      c.ok(
        `${p.name}: allocation + available <= capacity`,
        p.allocationBytes + p.availableBytes <= p.capacityBytes * 1.01,
      );
    }
    const volumes = await t.driver.volumes();
    c.ok(
      'every volume lives in a listed pool',
      volumes.every((v) => pools.some((p) => v.id.startsWith(`${p.name}/`) || v.id === v.name)),
      volumes.map((v) => v.id).join(','),
    );
  });
});

await currentRun();
