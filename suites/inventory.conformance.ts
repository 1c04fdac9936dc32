/** INV-01, INV-03, INV-04, INT-01: inventory objects, placement metadata, capacity and usage, external ids. */
import { describe } from 'vitest';
import type { VmRef } from '../adapters/contract/index.js';
import { waitFor } from '../host/wait.js';
import { baseSpec, currentRun, ownedVms, requirement, stopNow, watchEvents } from './harness.js';

describe('inventory', () => {
  const vms = ownedVms();

  requirement(['INV-01'], 'hosts and VMs are separate inventory objects', async (ctx) => {
    const { t, checks: c } = ctx;
    const vm = await vms.create(ctx, baseSpec(ctx.run, 'inv1'));
    const hosts = await t.driver.hosts();
    const vmsListed = await t.driver.list({});
    c.ok('at least one host listed', hosts.length > 0);
    c.ok(
      'host ids are not VM ids',
      hosts.every((h) => !vmsListed.some((v) => v.id === h.id)),
      hosts.map((h) => h.id).join(','),
    );
    c.ok(
      'the VM is listed as a VM',
      vmsListed.some((v) => v.id === vm.id),
    );
    c.ok(
      'host capacity comes from a host object',
      hosts.every((h) => h.capacity.cpus > 0 && h.capacity.memoryBytes > 0),
    );
  });

  requirement(
    ['INV-03'],
    'tenant/project/environment metadata set at create, read back, filterable, kept across a daemon restart',
    async (ctx) => {
      const { t, checks: c } = ctx;
      const a = await vms.create(
        ctx,
        baseSpec(ctx.run, 'inv3a', { metadata: { tenant: 'acme', project: 'billing', environment: 'prod' } }),
      );
      const b = await vms.create(
        ctx,
        baseSpec(ctx.run, 'inv3b', { metadata: { tenant: 'acme', project: 'billing', environment: 'test' } }),
      );
      c.eq('read back', (await t.driver.inspect(a)).config.metadata, {
        tenant: 'acme',
        project: 'billing',
        environment: 'prod',
      });
      const prod = await t.driver.list({ owner: t.runId, metadata: { project: 'billing', environment: 'prod' } });
      c.eq(
        'filter by project and environment',
        prod.map((v) => v.id),
        [a.id],
      );
      const billing = (await t.driver.list({ owner: t.runId, metadata: { project: 'billing' } }))
        .map((v) => v.id)
        .sort();
      c.eq('filter by project', billing, [a.id, b.id].sort(), `filtered by the ${ctx.caps.metadataFilter}`);
      if (!t.control.restartDaemon)
        return c.prereqMissing('kept across a daemon restart', 'the lab config allows no daemon restart');
      await t.control.restartDaemon();
      c.eq('kept across a daemon restart', (await t.driver.inspect(b)).config.metadata, {
        tenant: 'acme',
        project: 'billing',
        environment: 'test',
      });
    },
  );

  requirement(['INV-04'], 'host capacity and allocation readable; per-project usage computable', async (ctx) => {
    const { t, checks: c } = ctx;
    const [host] = await t.driver.hosts();
    c.must('a host', !!host);
    c.ok(
      'capacity: CPU, memory, storage',
      !!host && host.capacity.cpus > 0 && host.capacity.memoryBytes > 0 && (host.capacity.storageBytes ?? 0) > 0,
      JSON.stringify(host?.capacity),
    );
    // Before the VMs exist: a platform may allocate at create (OpenStack Placement) or at start (libvirt);
    // either way, once they run, the allocation has grown by exactly their resources.
    const before = (await t.driver.hosts())[0]?.allocated;
    const started: VmRef[] = [];
    for (const [suffix, project, vcpus, memoryMiB] of [
      ['inv4a', 'alpha', 1, 192],
      ['inv4b', 'beta', 2, 256],
    ] as const) {
      const vm = await vms.create(
        ctx,
        baseSpec(ctx.run, suffix, { vcpus, memoryMiB, metadata: { tenant: 'acme', project, environment: 'test' } }),
      );
      started.push(vm);
    }
    for (const vm of started) await t.driver.start(vm);
    const after = (await t.driver.hosts())[0]?.allocated;
    c.eq('allocated CPUs grew by the VMs (before create -> after start)', (after?.cpus ?? 0) - (before?.cpus ?? 0), 3);
    c.eq(
      'allocated memory grew by the VMs (before create -> after start)',
      (after?.memoryBytes ?? 0) - (before?.memoryBytes ?? 0),
      (192 + 256) * 1024 * 1024,
    );
    const usage = async (project: string) => {
      let cpus = 0;
      let mem = 0;
      for (const v of await t.driver.list({ owner: t.runId, metadata: { project } })) {
        const s = await t.driver.inspect(v);
        cpus += s.config.vcpus;
        mem += s.config.memoryMiB;
      }
      return { cpus, mem };
    };
    c.eq('per-project usage: alpha', await usage('alpha'), { cpus: 1, mem: 192 });
    c.eq('per-project usage: beta', await usage('beta'), { cpus: 2, mem: 256 });
    for (const vm of started) await stopNow(t.driver, vm);
  });

  requirement(
    ['INT-02'],
    'the platform changes no VM state on its own; an out-of-band change is detected',
    async (ctx) => {
      const { t, checks: c } = ctx;
      const watch = watchEvents(t);
      try {
        await watch.ready();
        const vm = await vms.create(ctx, baseSpec(ctx.run, 'int2'));
        await t.driver.start(vm);
        // The platform reports the harness's own create and start first (a polling platform a poll later,
        // a start task once running and again when done); the observation window opens once this VM's
        // start has been seen complete.
        await watch.next(
          'the completed start of this VM',
          (e) => e.vm === vm.name && /start/i.test(e.detail) && !/running/i.test(e.detail),
        );
        const seen = watch.events.length;
        const recorded = await t.driver.inspect(vm);
        // A declared observation window: no event and no change may come from the platform by itself.
        const quiet = await waitFor(
          'a platform-initiated change',
          { deadlineMs: 3_000, intervalMs: 250, backoff: 1, maxIntervalMs: 250 },
          async () => watch.events.slice(seen).find((e) => e.vm === vm.name),
        ).catch(() => undefined);
        c.event.ok('no platform-initiated event in 3 s', quiet === undefined, quiet?.value.raw);
        c.eq('state unchanged by the platform', (await t.driver.inspect(vm)).power, recorded.power);
        if (!t.control.outOfBandStop)
          return c.prereqMissing('out-of-band change', 'the lab gives no way to act behind the harness');
        await t.control.outOfBandStop(vm);
        const ev = await watch.next('the out-of-band stop', (e) => e.vm === vm.name && /stop/i.test(e.detail));
        c.event.ok('the out-of-band change arrives as an event', true, ev.raw);
        const now = await t.driver.inspect(vm);
        c.ok(
          'drift detected against the recorded state',
          now.power !== recorded.power,
          `${recorded.power} -> ${now.power}`,
        );
      } finally {
        await watch.stop();
      }
    },
  );

  requirement(['INT-01'], 'externally assigned ids and metadata are stored and returned verbatim', async (ctx) => {
    const { t, checks: c } = ctx;
    const metadata = {
      'sentral-id': 'vm-7f3e2a10-5b4c-4d2e-9f1a-0c8b7e6d5a43',
      'sentral-uri': 'https://sentral.example/v1/vms/7f3e?expand=nics&x=<1>',
      label: 'Prod – æøå "quoted" \'single\' & more',
      spaces: '  leading and trailing  ',
      empty: '',
    };
    const vm = await vms.create(ctx, baseSpec(ctx.run, 'int1', { metadata }));
    c.eq('returned verbatim', (await t.driver.inspect(vm)).config.metadata, metadata);
    await t.driver.start(vm);
    await stopNow(t.driver, vm);
    c.eq('verbatim after start and stop', (await t.driver.inspect(vm)).config.metadata, metadata);
  });
});

await currentRun();
