/** AUT-01, INS-01, INS-02, ID-01, ID-02, OBS-01..03: automation, inspection, identity, observability. */
import { describe } from 'vitest';
import {
  AuthFailed,
  isVmconformError,
  NotFound,
  type PlatformEvent,
  powerStates,
  type VmRef,
} from '../adapters/contract/index.js';
import { checkGuestSeesSpec } from './guest-spec.js';
import {
  baseSpec,
  bootNumber,
  currentRun,
  ownedVms,
  requirement,
  stopNow,
  vmName,
  waitGuest,
  watchEvents,
} from './harness.js';

/** From the platform's own event timestamp (same host clock) to its arrival in the harness. */
function eventDelivery(e: PlatformEvent): number | undefined {
  if (!e.platformAt) return undefined;
  const at = Date.parse(e.platformAt.replace(' ', 'T').replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  return Number.isNaN(at) ? undefined : e.receivedAt - at;
}

describe('platform', () => {
  const vms = ownedVms();

  requirement(['AUT-01'], 'runs with no TTY or prompt; bad credentials give a typed auth error', async (ctx) => {
    const { t, checks: c } = ctx;
    c.ok('the harness runs without a TTY on stdin', !process.stdin.isTTY);
    c.ok('platform answers non-interactively', (await t.driver.platformInfo()).version.length > 0);
    const bad = t.control.badCredentials?.();
    if (!bad)
      return c.prereqMissing(
        'bad-credential check',
        'the lab config gives no way to reach the platform with wrong credentials',
      );
    const t0 = performance.now();
    const err = await bad.platformInfo().then(
      () => undefined,
      (e: unknown) => e,
    );
    c.ok('wrong credentials give AuthFailed', err instanceof AuthFailed, String(err));
    c.ok('the auth error comes back within 30 s', performance.now() - t0 < 30_000);
  });

  requirement(
    ['INS-01', 'INS-02'],
    'state and full config come from structured output and map onto the contract',
    async (ctx) => {
      const { t, checks: c } = ctx;
      const spec = baseSpec(ctx.run, 'ins', {
        disks: [{ name: 'data1', sizeBytes: 16 * 1024 * 1024 }],
        metadata: { tenant: 't1', project: 'p1', environment: 'e1' },
      });
      const vm = await vms.create(ctx, spec);
      const stopped = await t.driver.inspect(vm);
      c.ok(
        'stopped state maps onto the contract',
        powerStates.includes(stopped.power) && stopped.power === 'stopped',
        stopped.rawState,
      );
      await t.driver.start(vm);
      const running = await t.driver.inspect(vm);
      c.eq('running state', running.power, 'running');
      c.ok('raw platform state kept', running.rawState.length > 0, running.rawState);
      c.ok('structured source named', running.source.length > 0, running.source);
      c.eq('INS-02 vcpus', running.config.vcpus, spec.vcpus);
      c.eq('INS-02 memory', running.config.memoryMiB, spec.memoryMiB);
      // The platform may choose the serial (Cinder: the volume id) and round the size up (whole GiB):
      // the config read back must show the one data disk with a serial and at least the declared size.
      const data = running.config.disks.filter((d) => d.role === 'data');
      c.eq('INS-02 one data disk', data.length, 1);
      c.ok(
        'INS-02 data disk: a serial and at least the declared size',
        data.every((d) => d.serial.length > 0 && d.sizeBytes >= 16 * 1024 * 1024),
        JSON.stringify(data.map((d) => [d.serial, d.sizeBytes])),
      );
      c.eq(
        'INS-02 NICs',
        running.config.nics.map((n) => n.network),
        [t.lab.network],
      );
      c.eq('INS-02 metadata', running.config.metadata, spec.metadata);
      // What inspection claims, the guest must show: the same CPUs, memory, MACs and disks.
      const { value: b } = await waitGuest(ctx, vm, 'first boot', bootNumber(1));
      checkGuestSeesSpec(c, ctx.caps, spec, running, b);
      await stopNow(t.driver, vm);
    },
  );

  requirement(
    ['ID-01', 'ID-02'],
    'VM and host identity stable across stop/start, reboot, rename and daemon restart; never reused',
    async (ctx) => {
      const { t, checks: c } = ctx;
      const vm = await vms.create(ctx, baseSpec(ctx.run, 'id'));
      const id = vm.id;
      const hostBefore = (await t.driver.hosts()).map((h) => h.id);
      c.ok(
        'host has an identity',
        hostBefore.length > 0 && hostBefore.every((h) => h.length > 0),
        hostBefore.join(','),
      );
      await t.driver.start(vm);
      await waitGuest(ctx, vm, 'boot', bootNumber(1));
      await t.driver.reboot(vm);
      await waitGuest(ctx, vm, 'boot after reboot', bootNumber(2));
      c.eq('id after reboot', (await t.driver.inspect(vm)).ref.id, id);
      await stopNow(t.driver, vm);
      await t.driver.start(vm);
      c.eq('id after stop/start', (await t.driver.inspect(vm)).ref.id, id);
      await stopNow(t.driver, vm);
      let current: VmRef = vm;
      if (ctx.caps.rename === 'none') c.unsupported('rename', 'the platform cannot rename a VM');
      else {
        current = (await t.driver.rename(vm, vmName(ctx.run, 'id-renamed'))).result;
        vms.all.splice(vms.all.indexOf(vm), 1, current);
        const s = await t.driver.inspect(current);
        c.eq('id after rename', s.ref.id, id);
        c.eq('name after rename', s.ref.name, current.name);
      }
      await t.driver.start(current);
      if (!t.control.restartDaemon)
        c.prereqMissing('daemon restart', 'the lab config allows no control-daemon restart on this host');
      else {
        await t.control.restartDaemon();
        const s = await t.driver.inspect(current);
        c.eq('id after daemon restart', s.ref.id, id);
        c.eq('VM still running after daemon restart', s.power, 'running');
        c.eq(
          'ID-02 host ids after daemon restart',
          (await t.driver.hosts()).map((h) => h.id),
          hostBefore,
        );
      }
      await t.driver.delete(current);
      vms.all.splice(vms.all.indexOf(current), 1);
      const again = await vms.create(ctx, baseSpec(ctx.run, 'id-renamed'));
      c.ok('a new VM with the same name gets a new id', again.id !== id, `${id} vs ${again.id}`);
    },
  );

  requirement(['OBS-01'], 'each mutating op yields a handle queryable for status, times and error', async (ctx) => {
    const { t, checks: c } = ctx;
    const r = await ctx.time('create', t.driver.create(baseSpec(ctx.run, 'obs')));
    vms.all.push(r.result);
    if (r.handle.kind === 'none' || !ctx.caps.taskHandles) {
      return c.unsupported(
        'task handle for create',
        r.handle.note ?? 'the platform returned no task, operation or request id',
      );
    }
    const info = await t.driver.task(r.handle);
    c.ok('the handle is queryable', info.status === 'succeeded', JSON.stringify(info));
    c.ok('the task has times', !!info.startedAt && !!info.endedAt);
  });

  requirement(['OBS-02'], 'state changes arrive as events; latency from change to event measured', async (ctx) => {
    const { t, checks: c } = ctx;
    if (ctx.caps.events === 'none')
      return c.event.unsupported('events', 'the platform offers neither push events nor a documented poll');
    const watch = watchEvents(t);
    try {
      await watch.ready();
      const vm = await vms.create(ctx, baseSpec(ctx.run, 'obs2'));
      // The define event proves the subscription is live before the measured change.
      await watch.next('VM defined', (e) => e.vm === vm.name);
      // Only events after the triggering call count: an earlier one cannot measure this change.
      const beforeStart = watch.mark();
      const t0 = Date.now();
      await t.driver.start(vm);
      const started = await watch.next(
        'VM started',
        (e) => e.vm === vm.name && e.kind === 'lifecycle' && /start/i.test(e.detail),
        beforeStart,
      );
      ctx.phase('start-request-to-event', started.receivedAt - t0);
      const delivery = eventDelivery(started);
      if (delivery !== undefined) ctx.phase('event-delivery', delivery);
      c.event.ok(`start event (${ctx.caps.events})`, true, started.raw);
      const beforeStop = watch.mark();
      const t1 = Date.now();
      await stopNow(t.driver, vm);
      const stopped = await watch.next(
        'VM stopped',
        (e) => e.vm === vm.name && e.kind === 'lifecycle' && /stop/i.test(e.detail),
        beforeStop,
      );
      ctx.phase('stop-request-to-event', stopped.receivedAt - t1);
      c.event.ok('stop event', true, stopped.raw);
    } finally {
      await watch.stop();
    }
  });

  requirement(
    ['OBS-03'],
    'a failing op returns a machine-readable reason in time and leaves nothing half-made',
    async (ctx) => {
      const { t, checks: c } = ctx;
      const before = (await t.driver.volumes()).map((v) => v.id).sort();
      const badImage = baseSpec(ctx.run, 'obs-badimg', { image: `${t.lab.image}-does-not-exist` });
      const e1 = await t.driver.create(badImage).then(
        (r) => void vms.all.push(r.result),
        (e: unknown) => e,
      );
      c.ok('bad image: typed error', isVmconformError(e1), String(e1));
      c.ok(
        'bad image: the reason names the image',
        String((e1 as Error)?.message).includes('does-not-exist'),
        String(e1),
      );
      c.ok('bad image: no VM left', !(await t.driver.list({ owner: t.runId })).some((v) => v.name === badImage.name));
      c.eq('bad image: no volume left', (await t.driver.volumes()).map((v) => v.id).sort(), before);

      const badNet = baseSpec(ctx.run, 'obs-badnet', { nics: [{ network: 'vmconform-no-such-network' }] });
      let failedAt = 'nowhere';
      let err: unknown;
      let vm: VmRef | undefined;
      try {
        vm = (await t.driver.create(badNet)).result;
        vms.all.push(vm);
        failedAt = 'start';
        await t.driver.start(vm);
        failedAt = 'nowhere';
      } catch (e) {
        err = e;
        if (failedAt === 'nowhere') failedAt = 'create';
      }
      c.ok('bad network: refused at create or start', failedAt !== 'nowhere', failedAt);
      c.ok(
        'bad network: typed error naming the network',
        isVmconformError(err) && String((err as Error).message).includes('vmconform-no-such-network'),
        String(err),
      );
      if (vm) {
        const s = await t.driver
          .inspect(vm)
          .catch((e: unknown) => (e instanceof NotFound ? undefined : Promise.reject(e)));
        c.ok('bad network: the VM is not left half-started', !s || s.power === 'stopped', s?.rawState);
      }
    },
  );
});

await currentRun();
