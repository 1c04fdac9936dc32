/**
 * OPS-01: injected faults give typed errors, in bounded time, and after recovery nothing is lost:
 * the control daemon down, API errors, a full storage pool, a bad spec.
 */
import { describe } from 'vitest';
import { type Driver, isVmconformError, type VmRef, type VmSpec } from '../adapters/contract/index.js';
import { baseSpec, currentRun, ownedVms, type ReqContext, requirement } from './harness.js';

/** The error a call gave, or undefined if it succeeded; with how long it took to come back. */
async function outcome(p: Promise<unknown>): Promise<{ err: unknown; ms: number }> {
  const t0 = performance.now();
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  return { err, ms: performance.now() - t0 };
}

const describeErr = (e: unknown) => (isVmconformError(e) ? `${e.code}: ${e.message}` : String(e));

/** Refused with a typed error, and the platform holds nothing of the spec afterwards (no VM, no volume). */
async function refusedCleanly(ctx: ReqContext, label: string, d: Driver, spec: VmSpec, vms: VmRef[]) {
  const c = ctx.checks;
  const { err, ms } = await outcome(
    d.create(spec).then((r) => {
      vms.push(r.result);
      return d.start(r.result);
    }),
  );
  ctx.phase(`${label}: refusal`, ms);
  c.ok(`${label}: refused with a typed error`, isVmconformError(err), describeErr(err));
  const left = vms.find((v) => v.name === spec.name);
  if (left) {
    // Accepted at create and refused at start: the VM is the caller's to delete, but must not be running.
    const s = await d.inspect(left);
    c.ok(`${label}: accepted at create, refused at start, left stopped`, s.power === 'stopped', s.rawState);
    await d.delete(left);
    vms.splice(vms.indexOf(left), 1);
  }
  c.ok(`${label}: no VM left`, !(await d.list({ owner: ctx.t.runId })).some((v) => v.name === spec.name));
  // Only this spec's volumes: other runs may share the pool and change it meanwhile.
  c.eq(
    `${label}: no volume of it left`,
    (await d.volumes()).filter((v) => v.name.startsWith(spec.name)).map((v) => v.id),
    [],
  );
}

describe('faults', () => {
  const vms = ownedVms();

  requirement(
    ['OPS-01'],
    'control daemon down: typed errors in bounded time, no hang; after it is back the VMs and their metadata are intact',
    async (ctx) => {
      const { t, checks: c } = ctx;
      const { stopDaemon, startDaemon } = t.control;
      if (!stopDaemon || !startDaemon)
        return c.prereqMissing('daemon down', 'the lab config allows no daemon stop/start (labControl: false)');
      const vm = await vms.create(ctx, baseSpec(ctx.run, 'ops1d', { metadata: { tenant: 'acme', ext: 'S-0001' } }));
      await t.driver.start(vm);
      const before = await t.driver.inspect(vm);
      const failedCreate = baseSpec(ctx.run, 'ops1x');
      const t0 = performance.now();
      await stopDaemon();
      ctx.phase('daemon stop', performance.now() - t0);
      let down: { read: Awaited<ReturnType<typeof outcome>>; create: Awaited<ReturnType<typeof outcome>> };
      try {
        down = {
          read: await outcome(t.driver.inspect(vm)),
          create: await outcome(
            t.driver.create(failedCreate).then((r) => {
              vms.all.push(r.result);
            }),
          ),
        };
      } finally {
        const t1 = performance.now();
        await startDaemon();
        ctx.phase('daemon start until it answers', performance.now() - t1);
      }
      ctx.phase('daemon down: read refused', down.read.ms);
      ctx.phase('daemon down: create refused', down.create.ms);
      c.ok('read while down: typed error', isVmconformError(down.read.err), describeErr(down.read.err));
      c.ok('create while down: typed error', isVmconformError(down.create.err), describeErr(down.create.err));
      // Bounded: well inside the create wait policy, so a hang cannot pass as a slow answer.
      c.ok('errors came back within 30 s', down.read.ms < 30_000 && down.create.ms < 30_000);
      const after = await t.driver.inspect(vm);
      c.eq('the VM is still running after the outage', after.power, 'running');
      c.eq(
        'its identity and metadata are intact',
        [after.ref.id, after.config.metadata],
        [vm.id, before.config.metadata],
      );
      c.eq(
        'its disks and NICs are intact',
        [after.config.disks, after.config.nics],
        [before.config.disks, before.config.nics],
      );
      c.ok(
        'the create refused while down left nothing',
        !(await t.driver.list({ owner: t.runId })).some((v) => v.name === failedCreate.name),
      );
      c.ok(
        'the run still owns exactly what it created',
        (await t.driver.owned()).some((o) => o.kind === 'vm' && o.id === vm.id),
      );
    },
  );

  requirement(['OPS-01'], 'API errors are typed: unknown VM, wrong state, name taken', async (ctx) => {
    const { t, checks: c } = ctx;
    const ghost = { id: '00000000-0000-4000-8000-00000000dead', name: `vmc-${t.runId}-ghost` };
    const nf = await outcome(t.driver.inspect(ghost));
    c.eq('inspect an unknown VM: not-found', (nf.err as { code?: string })?.code, 'not-found', describeErr(nf.err));
    const vm = await vms.create(ctx, baseSpec(ctx.run, 'ops1a', { nics: [] }));
    // A wrong-state call may be refused (then with a typed conflict) or be a no-op (LC-06 allows both):
    // a no-op must leave the VM stopped; an untyped or other error fails.
    const stopStopped = await outcome(t.driver.stop(vm, { force: false }));
    if (stopStopped.err)
      c.eq(
        'stop a stopped VM: refused with conflict',
        (stopStopped.err as { code?: string })?.code,
        'conflict',
        describeErr(stopStopped.err),
      );
    else c.eq('stop a stopped VM: a no-op, the VM stays stopped', (await t.driver.inspect(vm)).power, 'stopped');
    const dup = await outcome(
      t.driver.create(baseSpec(ctx.run, 'ops1a', { nics: [] })).then((r) => void vms.all.push(r.result)),
    );
    c.eq('create with a taken name: conflict', (dup.err as { code?: string })?.code, 'conflict', describeErr(dup.err));
    c.eq('the first VM is untouched', (await t.driver.inspect(vm)).ref.id, vm.id);
  });

  requirement(
    ['OPS-01'],
    'storage full: a disk larger than the pool gives a typed error and nothing half-made',
    async (ctx) => {
      const { t, checks: c } = ctx;
      const pool = t.lab.smallPool;
      const d = t.control.smallPoolDriver?.();
      if (!pool || !d)
        return c.prereqMissing(
          'small pool',
          'the lab has no small storage pool to fill (lab up makes one on the local lab)',
        );
      const mine: VmRef[] = [];
      try {
        const free = async () => (await d.storagePools()).find((p) => p.name === pool.name)?.availableBytes ?? -1;
        const freeBefore = await free();
        // A disk that fits proves the pool works: the refusal below is about space, nothing else.
        const fits = (
          await d.create(baseSpec(ctx.run, 'ops1s', { nics: [], disks: [{ name: 'fits', sizeBytes: 2 << 20 }] }))
        ).result;
        mine.push(fits);
        c.ok(
          'a 2 MiB disk fits the small pool',
          (await d.inspect(fits)).config.disks.some((x) => x.serial === 'fits'),
        );
        await d.delete(fits);
        mine.splice(0);
        c.eq('deleting it gives the space back', await free(), freeBefore);
        await refusedCleanly(
          ctx,
          'disk of twice the pool',
          d,
          baseSpec(ctx.run, 'ops1f', { nics: [], disks: [{ name: 'huge', sizeBytes: pool.capacityBytes * 2 }] }),
          mine,
        );
        c.eq('the pool has all its free space back', await free(), freeBefore);
      } finally {
        for (const vm of mine) await d.delete(vm).catch(() => undefined);
        await d.close();
      }
    },
  );

  requirement(['OPS-01'], 'bad spec (unknown image, unknown network): typed error, nothing left', async (ctx) => {
    const { t } = ctx;
    await refusedCleanly(
      ctx,
      'unknown image',
      t.driver,
      baseSpec(ctx.run, 'ops1i', { image: `${t.lab.image}-no-such-version` }),
      vms.all,
    );
    await refusedCleanly(
      ctx,
      'unknown network',
      t.driver,
      baseSpec(ctx.run, 'ops1n', { nics: [{ network: 'vmconform-no-such-net' }] }),
      vms.all,
    );
  });
});

await currentRun();
