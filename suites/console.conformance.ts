/** OBS-04: a VM's console or task log read through the platform API (not from a file on its host). */
import { describe } from 'vitest';
import { baseSpec, bootNumber, currentRun, ownedVms, requirement, waitGuest } from './harness.js';

describe('console log', () => {
  const vms = ownedVms();

  requirement(['OBS-04'], 'per-VM console or task log retrievable through the API', async (ctx) => {
    const { t, checks: c } = ctx;
    const vm = await vms.create(ctx, baseSpec(ctx.run, 'obs4', { nics: [] }));
    await t.driver.start(vm);
    const { value: b } = await waitGuest(ctx, vm, 'boot', bootNumber(1));
    // Unsupported here is the platform's: the adapter says why its API serves no log.
    const log = await t.driver.consoleLog(vm);
    c.ok('the log holds what the guest printed (its READY line)', log.includes(`VMC READY boot_id=${b.ready.bootId}`));
  });
});

await currentRun();
