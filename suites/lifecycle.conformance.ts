/** LC-01..LC-06: create, start, reboot, stop, delete, and invalid transitions, proven by API and guest. */
import { describe } from 'vitest';
import { Conflict, NotFound, Unsupported } from '../adapters/contract/index.js';
import { boots } from '../host/guest/report.js';
import { checkGuestSeesSpec, guestHardware } from './guest-spec.js';
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

describe('lifecycle', () => {
  const vms = ownedVms();
  // The VM LC-01 creates and LC-02..05 drive through its life; made by whichever of them runs first.
  const lc = fixture(async (ctx) => {
    const { t } = ctx;
    const spec = baseSpec(ctx.run, 'lc', {
      vcpus: 2,
      memoryMiB: 320,
      disks: [{ name: 'data1', sizeBytes: 32 * 1024 * 1024 }],
      nics: [
        { network: t.lab.network, mac: '52:54:00:10:00:01' },
        { network: t.lab.network2, mac: '52:54:00:10:00:02' },
      ],
      metadata: { tenant: 'acme', project: 'web', environment: 'prod', 'sentral-id': 'vm-0001' },
    });
    return { spec, vm: await vms.create(ctx, spec) };
  });

  requirement(['LC-01'], 'create from a declared spec; config read back equals the spec', async (ctx) => {
    const { t, checks: c } = ctx;
    const { vm, spec } = await lc.get(ctx);
    c.ok('create returned a durable id', /^[0-9a-f-]{36}$/i.test(vm.id), vm.id);
    const s = await t.driver.inspect(vm);
    c.eq('name', s.ref.name, spec.name);
    c.eq('vcpus', s.config.vcpus, spec.vcpus);
    c.eq('memoryMiB', s.config.memoryMiB, spec.memoryMiB);
    c.eq('metadata verbatim', s.config.metadata, spec.metadata);
    c.eq('ownership tag run id', s.config.owner?.runId, ctx.run.target.runId);
    c.eq(
      'NIC MACs in order',
      s.config.nics.map((n) => n.mac),
      spec.nics.map((n) => n.mac),
    );
    c.eq(
      'NIC networks in order',
      s.config.nics.map((n) => n.network),
      spec.nics.map((n) => n.network),
    );
    const boot = s.config.disks.find((d) => d.role === 'boot');
    c.ok('boot disk present, from the base image', !!boot, JSON.stringify(s.config.disks));
    // The platform may choose the serial and round the size up (Cinder: whole GiB); the declared size is a floor.
    const data = s.config.disks.filter((d) => d.role === 'data');
    c.eq('one data disk', data.length, 1);
    c.ok(
      'data disk at least the declared size',
      (data[0]?.sizeBytes ?? 0) >= 32 * 1024 * 1024,
      `${data[0]?.sizeBytes} bytes for ${32 * 1024 * 1024} declared`,
    );
    c.eq('power state after create', s.power, 'stopped');
  });

  requirement(['LC-02'], 'start: platform state running and the guest reports ready', async (ctx) => {
    // Needs the created, never started VM: as LC-01 leaves it, or made now.
    const { vm, spec } = await lc.get(ctx);
    const r = await ctx.time('start', ctx.t.driver.start(vm));
    const s = await ctx.t.driver.inspect(vm);
    ctx.checks.eq('platform state', s.power, 'running');
    const { value: b, waitedMs } = await waitGuest(ctx, vm, 'first boot ready', bootNumber(1));
    ctx.phase('start-to-guest-ready', r.doneMs + waitedMs);
    ctx.checks.guest.ok('guest printed READY with a boot id', /^[0-9a-f-]{36}$/.test(b.ready.bootId), b.ready.bootId);
    // The guest finds the boot disk by the serial inspection reports (the platform may have chosen it).
    const bootSerial = (await ctx.t.driver.inspect(vm)).config.disks.find((d) => d.role === 'boot')?.serial;
    const bootDisk = b.states[0]?.disks.find((d) => d.serial === bootSerial);
    ctx.checks.guest.eq('guest boot disk holds the base image', bootDisk?.hdr, 'VMCIMG:base-v1');
    checkGuestSeesSpec(ctx.checks, ctx.caps, spec, s, b);
  });

  requirement(['LC-01'], 'the guest sees the declared spec: CPUs, memory, NIC MACs, disks, firmware', async (ctx) => {
    // What was created is what the guest was given: read from its first boot (started here if no one did).
    const { vm, spec } = await lc.get(ctx);
    await ensureRunning(ctx, vm);
    const { value: b } = await waitGuest(ctx, vm, 'first boot', bootNumber(1));
    checkGuestSeesSpec(ctx.checks, ctx.caps, spec, await ctx.t.driver.inspect(vm), b);
  });

  requirement(['LC-04'], 'reboot: boot id changes, identity and config unchanged', async (ctx) => {
    const { vm, spec } = await lc.get(ctx);
    await ensureRunning(ctx, vm);
    const before = await ctx.t.driver.inspect(vm);
    const first = (await waitGuest(ctx, vm, 'first boot', bootNumber(1))).value;
    const r = await ctx.time('reboot', ctx.t.driver.reboot(vm));
    const { value: second, waitedMs } = await waitGuest(ctx, vm, 'second boot ready', bootNumber(2));
    ctx.phase('reboot-to-guest-ready', r.doneMs + waitedMs);
    ctx.checks.ok(
      'boot id changed',
      second.ready.bootId !== first.ready.bootId,
      `${first.ready.bootId} -> ${second.ready.bootId}`,
    );
    const after = await ctx.t.driver.inspect(vm);
    ctx.checks.eq('VM id unchanged', after.ref.id, before.ref.id);
    ctx.checks.eq('config unchanged', after.config, before.config);
    ctx.checks.eq('still running', after.power, 'running');
    // Unchanged in the guest too: the rebooted guest sees the declared spec, and what the first boot saw.
    checkGuestSeesSpec(ctx.checks, ctx.caps, spec, after, second, 'after reboot');
    ctx.checks.guest.eq(
      'the guest sees the same hardware after the reboot',
      guestHardware(ctx.caps, second),
      guestHardware(ctx.caps, first),
    );
  });

  requirement(['LC-03'], 'graceful stop is seen by the guest; forced stop ends stopped', async (ctx) => {
    const { vm } = await lc.get(ctx);
    await ensureRunning(ctx, vm);
    const { t, checks: c } = ctx;
    await ctx.time('stop-graceful', t.driver.stop(vm, { force: false }));
    c.eq('stopped after graceful stop', (await t.driver.inspect(vm)).power, 'stopped');
    const probe = t.driver.guest(vm);
    const report = await probe.read();
    const last = boots(report).at(-1);
    // The guest names how the request reached it: ACPI power button (VM) or the init's stop signal (container).
    if (probe.unseen?.shutdown) c.guest.unobservable('guest saw the graceful shutdown', probe.unseen.shutdown);
    else
      c.guest.ok(
        'guest saw the graceful shutdown',
        last?.shutdown !== undefined,
        JSON.stringify(last?.shutdown ?? null),
      );
    const n = boots(report).length;
    await ctx.time('start', t.driver.start(vm));
    await waitGuest(ctx, vm, 'boot after restart', bootNumber(n + 1));
    const forcedStop = await ctx.time('stop-forced', t.driver.stop(vm, { force: true })).catch((e: unknown) => e);
    // A platform with no forced power-off (Nova's os-stop always asks ACPI first) says so: that part is unsupported.
    if (forcedStop instanceof Unsupported && forcedStop.by === 'platform')
      return c.unsupported('forced stop', forcedStop.message);
    if (forcedStop instanceof Error) throw forcedStop;
    c.eq('stopped after forced stop', (await t.driver.inspect(vm)).power, 'stopped');
    const forced = boots(await t.driver.guest(vm).read())[n];
    c.guest.ok(
      'forced stop gave the guest no shutdown',
      forced?.shutdown === undefined,
      JSON.stringify(forced?.shutdown ?? null),
    );
  });

  requirement(['LC-05'], 'delete: VM gone, its volumes released, nothing leaked', async (ctx) => {
    const { vm } = await lc.get(ctx);
    const { t, checks: c } = ctx;
    const disks = (await t.driver.inspect(vm)).config.disks.map((d) => d.volumeId);
    await ctx.time('delete', t.driver.delete(vm));
    vms.all.splice(vms.all.indexOf(vm), 1);
    lc.forget();
    const gone = await t.driver.inspect(vm).then(
      () => false,
      (e) => e instanceof NotFound,
    );
    c.ok('inspect after delete gives NotFound', gone);
    c.ok("not listed among this run's VMs", !(await t.driver.list({ owner: t.runId })).some((v) => v.id === vm.id));
    const volumes = (await t.driver.volumes()).map((v) => v.id);
    c.eq(
      'its volumes are released',
      disks.filter((d) => volumes.includes(d)),
      [],
    );
  });

  requirement(
    ['LC-06'],
    'repeated and invalid transitions give a no-op or a typed error, never a hang',
    async (ctx) => {
      const { t, checks: c } = ctx;
      const typedOrNoop = async (
        name: string,
        op: () => Promise<unknown>,
        allowed: (new (...a: never[]) => Error)[],
      ) => {
        const outcome = await op().then(
          () => 'no-op',
          (e: unknown) =>
            allowed.some((k) => e instanceof k) ? `typed ${(e as Error).constructor.name}` : `untyped: ${String(e)}`,
        );
        c.ok(name, !outcome.startsWith('untyped'), outcome);
      };
      const v = await vms.create(ctx, baseSpec(ctx.run, 'lc6'));
      await typedOrNoop('stop (graceful) a stopped VM', () => t.driver.stop(v, { force: false }), [Conflict]);
      // Unsupported: a platform without forced power-off refuses the call itself, typed.
      await typedOrNoop('stop (forced) a stopped VM', () => t.driver.stop(v, { force: true }), [Conflict, Unsupported]);
      await t.driver.start(v);
      await typedOrNoop('start a running VM', () => t.driver.start(v), [Conflict]);
      c.eq('still running after the repeated start', (await t.driver.inspect(v)).power, 'running');
      await t.driver.delete(v);
      vms.all.splice(vms.all.indexOf(v), 1);
      await typedOrNoop('start a deleted VM', () => t.driver.start(v), [NotFound]);
      await typedOrNoop('inspect a deleted VM', () => t.driver.inspect(v), [NotFound]);
      await typedOrNoop('delete a deleted VM', () => t.driver.delete(v), [NotFound]);
    },
  );
});

// Fail fast with a clear reason when the lab is not there, rather than one error per test.
await currentRun();
