/** OPS-04, OPS-05: versions readable and VMs unaffected by a control-daemon restart; metrics through the API. */
import { describe } from 'vitest';
import { boots } from '../host/guest/report.js';
import {
  baseSpec,
  bootNumber,
  currentRun,
  ensureRunning,
  fixture,
  ownedVms,
  requirement,
  waitGuest,
} from './harness.js';

describe('operations', () => {
  const vms = ownedVms();
  // One booted VM that OPS-04 and OPS-05 both only read (its power state, boot id, metrics): a declared
  // shared scenario, made by whichever runs first, so a run boots one guest for the two.
  const booted = fixture(async (ctx) => {
    const vm = await vms.create(ctx, baseSpec(ctx.run, 'ops'));
    await ctx.t.driver.start(vm);
    await waitGuest(ctx, vm, 'boot', bootNumber(1));
    return vm;
  });

  requirement(
    ['OPS-04'],
    'platform and API versions readable; VMs keep running across a control-daemon restart',
    async (ctx) => {
      const { t, checks: c } = ctx;
      const info = await t.driver.platformInfo();
      c.ok('platform version', /\d+\.\d+/.test(info.version), info.version);
      c.ok(
        'API or hypervisor version',
        !!(info.apiVersion ?? info.hypervisor),
        `${info.apiVersion} / ${info.hypervisor}`,
      );
      const vm = await booted.get(ctx);
      await ensureRunning(ctx, vm);
      const before = boots(await t.driver.guest(vm).read());
      if (!t.control.restartDaemon) return c.prereqMissing('daemon restart', 'the lab config allows no daemon restart');
      await t.control.restartDaemon();
      c.eq('still running after the restart', (await t.driver.inspect(vm)).power, 'running');
      const report = await t.driver.guest(vm).read();
      c.eq(
        'the guest did not reboot (same boot id, no further boot)',
        [boots(report).length, boots(report).at(-1)?.ready.bootId],
        [before.length, before.at(-1)?.ready.bootId],
      );
    },
  );

  requirement(
    ['OPS-05'],
    'per-VM and per-host metrics (CPU, memory, disk, network) readable through the API',
    async (ctx) => {
      const { t, checks: c } = ctx;
      const vm = await booted.get(ctx);
      await ensureRunning(ctx, vm);
      const m = await t.driver.metrics(vm);
      c.ok('VM CPU time', (m.cpuTimeNs ?? 0) > 0, String(m.cpuTimeNs));
      c.ok('VM memory', (m.memoryBytes ?? 0) > 0, String(m.memoryBytes));
      // The guest read its boot disk's header while booting: the counter must show it.
      c.ok(
        'VM disk counters',
        m.disks.some((d) => d.target === 'vda' && d.readBytes > 0),
        JSON.stringify(m.disks),
      );
      c.ok('VM NIC counters', m.nics.length === 1, JSON.stringify(m.nics));
      const h = await t.driver.hostMetrics();
      c.ok('host CPU time', h.cpuTimeNs.user > 0 && h.cpuTimeNs.idle > 0, JSON.stringify(h.cpuTimeNs));
      c.ok(
        'host memory',
        h.memoryTotalBytes > h.memoryFreeBytes && h.memoryFreeBytes > 0,
        `${h.memoryFreeBytes}/${h.memoryTotalBytes}`,
      );
    },
  );
});

await currentRun();
