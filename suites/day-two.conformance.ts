/** OPS-02, OPS-03: day-2 changes of a stopped VM, the host maintenance path, and a scripted lab. */
import { describe } from 'vitest';
import { Conflict, Unsupported } from '../adapters/contract/index.js';
import { guestMemoryMiB } from './guest-spec.js';
import { baseSpec, bootNumber, currentRun, ownedVms, requirement, waitGuest } from './harness.js';

describe('day-2 operations', () => {
  const vms = ownedVms();

  requirement(
    ['OPS-02'],
    'CPU and memory of a stopped VM change (read back and seen by the guest); a host maintenance path exists',
    async (ctx) => {
      const { t, checks: c, caps } = ctx;
      const vm = await vms.create(ctx, baseSpec(ctx.run, 'ops2', { vcpus: 1, memoryMiB: 256 }));
      await t.driver.start(vm);
      const { value: first } = await waitGuest(ctx, vm, 'boot before the change', bootNumber(1));
      const refused = await t.driver.reconfigure(vm, { vcpus: 2 }).then(
        () => 'accepted',
        (e: unknown) => (e instanceof Conflict || e instanceof Unsupported ? `typed ${e.constructor.name}` : String(e)),
      );
      c.ok(
        'a change of a running VM is refused with a typed error or applied',
        refused === 'accepted' || refused.startsWith('typed'),
        refused,
      );
      await t.driver.stop(vm, { force: false });

      await ctx.time('reconfigure', t.driver.reconfigure(vm, { vcpus: 2, memoryMiB: 384 }));
      const s = await t.driver.inspect(vm);
      c.eq('CPU and memory read back', [s.config.vcpus, s.config.memoryMiB], [2, 384]);
      await t.driver.start(vm);
      const { value: second } = await waitGuest(ctx, vm, 'boot after the change', bootNumber(2));
      c.guest.eq('the guest sees 2 CPUs after the change', [first.ready.cpus, second.ready.cpus], [1, 2]);
      // The guest's MemTotal is the VM's memory minus what the kernel reserves: it must grow by ~128 MiB.
      const grown = ((second.ready.memKiB ?? 0) - (first.ready.memKiB ?? 0)) / 1024;
      c.guest.ok('the guest sees about 128 MiB more memory', grown > 110 && grown <= 128, `${grown.toFixed(1)} MiB`);
      // The changed property as the guest was given it, from its own figures (firmware map or cgroup limit).
      const mem = guestMemoryMiB(caps, second);
      if (mem) c.guest.declared('memory (MiB) after the change', 384, mem.mib, mem.how);
      else c.guest.unobservable('memory (MiB) after the change', 'the guest reports no memory figure it was given');

      // Host maintenance: what the platform offers to empty a host.
      if (caps.hostMaintenance === 'none') {
        return c.unsupported('host maintenance path', 'the platform offers no way to empty a host');
      }
      if (caps.hostMaintenance !== 'stop-only') {
        throw new Unsupported(`host evacuation (${caps.hostMaintenance}) is not exercised by the suite yet`, 'adapter');
      }
      // Stop-only: the host's VMs (only this run's: the host is shared) stop gracefully and come back.
      const mine = await t.driver.list({ owner: t.runId });
      for (const v of mine)
        if ((await t.driver.inspect(v)).power === 'running') await t.driver.stop(v, { force: false });
      const states = await Promise.all(mine.map(async (v) => (await t.driver.inspect(v)).power));
      c.ok(
        "maintenance by stopping: this run's VMs on the host all stopped",
        states.every((p) => p === 'stopped'),
        `${mine.length} VMs: ${states.join(',')}`,
      );
      await t.driver.start(vm);
      const { value: third } = await waitGuest(ctx, vm, 'boot after maintenance', bootNumber(3));
      c.ok(
        'and boot again after maintenance (stop-only: no second host to move them to)',
        third.ready.bootId !== second.ready.bootId,
        third.ready.bootId,
      );
    },
  );

  requirement(
    ['OPS-03'],
    'the lab builds from scripts with no manual step; its bring-up time is recorded',
    async (ctx) => {
      const { t, checks: c } = ctx;
      if (!t.control.labRecord) {
        return c.prereqMissing('lab record', 'this target is not a lab the harness builds (no bring-up record)');
      }
      const rec = await t.control.labRecord();
      const r = c.need('the lab recorded its bring-up', rec);
      c.ok('built by a command, unattended', r.command.length > 0, r.command);
      c.eq('no manual step', r.manualSteps, []);
      c.ok(
        'bring-up time recorded',
        r.lastBringUp.ms > 0 && !Number.isNaN(Date.parse(r.lastBringUp.at)),
        `${r.lastBringUp.ms} ms at ${r.lastBringUp.at} (${r.lastBringUp.cold ? 'cold' : 'warm'})`,
      );
      ctx.phase(`lab bring-up (${r.lastBringUp.cold ? 'cold' : 'warm'})`, r.lastBringUp.ms);
      // A cold time is kept from the last bring-up from nothing; a lab first built by an older harness has none.
      if (r.coldBringUp) ctx.phase('lab bring-up (cold)', r.coldBringUp.ms);
    },
  );
});

await currentRun();
