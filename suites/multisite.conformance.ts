/**
 * MDC-01..04: placement and recovery across sites, on real hosts of every site the lab config
 * declares. Each site comes with its driver: one shared driver where one API spans the sites (the
 * platform places by VmSpec.placement), one per host where each host has its own daemon; the suites
 * always use the site's driver and ask for its site, so both shapes run the same checks.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe } from 'vitest';
import type { Driver, Host, Site, VmRef, VmSpec } from '../adapters/contract/index.js';
import { isVmconformError, Timeout } from '../evidence/errors.js';
import { boots, nicByMac } from '../host/guest/report.js';
import { defaultWaitPolicies, waitFor } from '../host/wait.js';
import { baseSpec, bootNumber, currentRun, type ReqContext, requirement, waitGuest } from './harness.js';

/** The lab's sites, or undefined after recording why multi-site evidence cannot be produced here. */
async function sitesOf(ctx: ReqContext): Promise<[Site, Site, ...Site[]] | undefined> {
  const sites = ctx.t.sites ?? [];
  const hosts = await ctx.t.driver.hosts();
  ctx.checks.ok(
    'hosts listed with their site labels',
    hosts.length > 0,
    JSON.stringify(hosts.map((h) => [h.name, h.site ?? null])),
  );
  // Evidence about placement across sites needs at least two; one site proves nothing either way.
  if (sites.length < 2) {
    ctx.checks.prereqMissing(
      'a second site',
      ctx.caps.prereqMissing['second-site'] ?? `the lab config declares ${sites.length} site(s)`,
    );
    return undefined;
  }
  return sites as [Site, Site, ...Site[]];
}

/** The hosts a site's API lists under that site's label (a shared API lists every site's hosts). */
async function hostsOf(site: Site): Promise<Host[]> {
  return (await site.driver.hosts()).filter((h) => h.site === site.name);
}

/** VMs created on any site, deleted through their own site's driver after the file. */
const created: { driver: Driver; vm: VmRef }[] = [];
/** Sites a test lost; given back before cleanup even when the test failed midway. */
const lost = new Set<Site>();
afterAll(async () => {
  for (const s of lost) await s.control.restore?.().catch(() => undefined);
  for (const { driver, vm } of created.splice(0)) await driver.delete(vm).catch(() => undefined);
});

async function createOn(ctx: ReqContext, site: Site, suffix: string, over: Partial<VmSpec> = {}): Promise<VmRef> {
  const spec = baseSpec(ctx.run, suffix, { ...over, placement: { site: site.name, ...over.placement } });
  const r = await ctx.time(`create on ${site.name}`, site.driver.create(spec));
  created.push({ driver: site.driver, vm: r.result });
  return r.result;
}

/**
 * Settles `call` within the declared policy: its value or its error, or a Timeout when it hangs.
 * A call that never returns is exactly what a lost site must not cause.
 */
async function settled<T>(what: string, call: Promise<T>): Promise<{ value?: T; error?: unknown; ms: number }> {
  const t0 = performance.now();
  let out: { value?: T; error?: unknown } | undefined;
  call.then(
    (value) => {
      out = { value };
    },
    (error: unknown) => {
      out = { error };
    },
  );
  try {
    await waitFor(what, defaultWaitPolicies.start, async () => out);
  } catch (e) {
    out = { error: e };
  }
  return { ...out, ms: Math.round(performance.now() - t0) };
}

const describeError = (e: unknown) =>
  isVmconformError(e)
    ? `${e.constructor.name} (${'platformCode' in e ? String(e.platformCode) : e.code}): ${e.message}`
    : `untyped: ${String(e)}`;

describe('multi-site', () => {
  requirement(['MDC-01'], 'place a VM on a declared site and read back where it is', async (ctx) => {
    const { checks: c } = ctx;
    const sites = await sitesOf(ctx);
    if (!sites) return;
    const [a, b] = sites;
    const [hostsA, hostsB] = [await hostsOf(a), await hostsOf(b)];
    c.ok(`${a.name} lists hosts labelled ${a.name}`, hostsA.length > 0, JSON.stringify(hostsA.map((h) => h.id)));
    c.ok(`${b.name} lists hosts labelled ${b.name}`, hostsB.length > 0, JSON.stringify(hostsB.map((h) => h.id)));
    c.ok(
      'the two sites are different hosts',
      hostsB.every((h) => !hostsA.some((x) => x.id === h.id)),
      `${hostsA.map((h) => h.id)} / ${hostsB.map((h) => h.id)}`,
    );

    const vm = await createOn(ctx, b, 'mdc1');
    await ctx.time(`start on ${b.name}`, b.driver.start(vm));
    const state = await b.driver.inspect(vm);
    c.eq('read back: placed on the requested site', state.config.placement.site, b.name);
    c.ok(
      `read back: on a host of ${b.name}`,
      hostsB.some((h) => h.id === state.config.placement.host),
      String(state.config.placement.host),
    );
    c.eq('running there', state.power, 'running');
    // The guest, read through site B's own access path, is the VM inspected there: its NIC has that MAC.
    const { value: boot, waitedMs } = await waitGuest(ctx, vm, 'boot', bootNumber(1), b.driver);
    ctx.phase(`start -> guest ready on ${b.name}`, waitedMs);
    const mac = state.config.nics[0]?.mac ?? '';
    c.ok(
      `the guest on ${b.name} reports the NIC the platform placed there`,
      !!boot.states[0] && !!nicByMac(boot.states[0], mac),
      `${mac} in ${JSON.stringify(boot.states[0]?.nics)}`,
    );
  });

  requirement(['MDC-02'], 'hosts carry failure-domain labels usable for anti-affinity placement', async (ctx) => {
    const { checks: c } = ctx;
    const sites = await sitesOf(ctx);
    if (!sites) return;
    const labelled = await Promise.all(sites.map(async (s) => ({ s, hosts: await hostsOf(s) })));
    for (const { s, hosts } of labelled)
      c.ok(
        `${s.name}: every host carries a failure-domain label`,
        hosts.length > 0 && hosts.every((h) => !!h.failureDomain),
        JSON.stringify(hosts.map((h) => [h.id, h.failureDomain ?? null])),
      );
    // Anti-affinity input: two VMs that must not share a failure domain, placed by the hosts' own labels.
    const domains = new Map<string, Site>();
    for (const { s, hosts } of labelled) for (const h of hosts) if (h.failureDomain) domains.set(h.failureDomain, s);
    const picks = [...domains.entries()].slice(0, 2);
    if (!c.ok('at least two failure domains to spread over', picks.length === 2, [...domains.keys()].join(','))) return;
    const placed: string[] = [];
    for (const [i, [fd, site]] of picks.entries()) {
      const vm = await createOn(ctx, site, `mdc2-${i}`, { placement: { site: site.name, failureDomain: fd } });
      const got = (await site.driver.inspect(vm)).config.placement;
      c.eq(`VM ${i + 1}: read back in failure domain ${fd}`, got.failureDomain, fd);
      placed.push(got.failureDomain ?? '');
    }
    c.ok('the two VMs are in different failure domains', placed[0] !== placed[1], placed.join(' / '));
    // A placement a host cannot honour must be refused (typed) or honoured, never silently ignored.
    const [[fdFirst], [, otherSite]] = picks as [[string, Site], [string, Site]];
    const wrong = await otherSite.driver
      .create(baseSpec(ctx.run, 'mdc2-x', { placement: { site: otherSite.name, failureDomain: fdFirst } }))
      .then(
        (r) => {
          created.push({ driver: otherSite.driver, vm: r.result });
          return otherSite.driver.inspect(r.result).then((s) => `placed in ${s.config.placement.failureDomain}`);
        },
        (e: unknown) => `refused: ${describeError(e)}`,
      );
    c.ok(
      `asking ${otherSite.name} for failure domain ${fdFirst}: refused with a typed error, or honoured`,
      wrong === `placed in ${fdFirst}` || (wrong.startsWith('refused: ') && !wrong.includes('untyped')),
      wrong,
    );
  });

  requirement(
    ['MDC-03'],
    'when one site is lost its VMs report a clear state and the other site keeps working',
    async (ctx) => {
      const { checks: c } = ctx;
      const sites = await sitesOf(ctx);
      if (!sites) return;
      const [a, b] = sites;
      if (!b.control.lose || !b.control.restore)
        return c.prereqMissing('losing a site', `the lab config gives no way to lose ${b.name} (labControl)`);
      const vm = await createOn(ctx, b, 'mdc3', { metadata: { tenant: 'acme', project: 'dr', environment: 'test' } });
      await b.driver.start(vm);
      const { value: before } = await waitGuest(ctx, vm, 'boot', bootNumber(1), b.driver);
      const configBefore = (await b.driver.inspect(vm)).config;

      lost.add(b);
      const tLost = performance.now();
      await b.control.lose();
      const inspect = await settled(`inspect ${vm.name} while ${b.name} is lost`, b.driver.inspect(vm));
      ctx.phase(`inspect on lost ${b.name} -> answer`, inspect.ms);
      c.ok(
        `a VM on the lost site reports a clear state (a typed error) instead of a stale one`,
        inspect.error !== undefined && isVmconformError(inspect.error),
        inspect.error !== undefined ? describeError(inspect.error) : `returned ${JSON.stringify(inspect.value?.power)}`,
      );
      c.ok(
        'no hang: it answered within the wait policy',
        !(inspect.error instanceof Timeout),
        `${inspect.ms} ms (deadline ${defaultWaitPolicies.start.deadlineMs} ms)`,
      );
      const list = await settled(`list on lost ${b.name}`, b.driver.list({ owner: ctx.t.runId }));
      c.ok(
        'listing the lost site fails typed, in bounded time',
        list.error !== undefined && isVmconformError(list.error) && !(list.error instanceof Timeout),
        `${list.error !== undefined ? describeError(list.error) : 'returned a list'} after ${list.ms} ms`,
      );

      // The other site's API keeps working: create and inspect there while B is gone.
      const onA = await createOn(ctx, a, 'mdc3-a');
      const stateA = await a.driver.inspect(onA);
      c.eq(
        `${a.name}: create and inspect work while ${b.name} is lost`,
        [stateA.ref.name, stateA.power],
        [onA.name, 'stopped'],
      );
      c.eq(`${a.name}: placed on ${a.name}`, stateA.config.placement.site, a.name);

      await b.control.restore();
      lost.delete(b);
      ctx.phase(`${b.name} lost -> restored and answering`, performance.now() - tLost);
      const after = await b.driver.inspect(vm);
      c.eq('after restore: the VM is still running', after.power, 'running');
      c.eq('after restore: its metadata, disks and NICs are unchanged', after.config, configBefore);
      const report = await b.driver.guest(vm).read();
      c.eq(
        'after restore: the guest never rebooted (one boot, same boot id)',
        [boots(report).length, boots(report).at(-1)?.ready.bootId],
        [1, before.ready.bootId],
      );
      c.ok(
        'after restore: the VM is listed on its site again',
        (await b.driver.list({ owner: ctx.t.runId })).some((r) => r.id === vm.id),
      );
    },
  );

  requirement(['MDC-04'], 'a VM is recovered in the other site from backup with its identity metadata', async (ctx) => {
    const { checks: c } = ctx;
    const sites = await sitesOf(ctx);
    if (!sites) return;
    const [a, b] = sites;
    const identity = {
      tenant: 'acme',
      project: 'billing',
      environment: 'prod',
      'sentral-id': `S-${randomUUID()}`,
      'external-id': `ext/${randomUUID()}`,
    };
    const vm = await createOn(ctx, b, 'mdc4', { metadata: identity });
    const original = await b.driver.inspect(vm);
    const backup = (await ctx.time(`backup on ${b.name}`, b.driver.backup(vm))).result;
    c.ok('backup taken of the site-B VM', backup.vm.id === vm.id, `${backup.id} at ${backup.location}`);

    // Recovery is what a site loss calls for: with B unreachable when the platform offers a way to lose it.
    const canLose = !!(b.control.lose && b.control.restore);
    const t0 = performance.now();
    if (canLose) {
      lost.add(b);
      await b.control.lose?.();
    }
    const restored = await ctx.time(
      `restore on ${a.name}`,
      a.driver.restore(backup, { name: `${vm.name}-r`, placement: { site: a.name } }),
    );
    created.push({ driver: a.driver, vm: restored.result });
    ctx.phase(`${b.name} lost -> restored on ${a.name}`, performance.now() - t0);
    const state = await a.driver.inspect(restored.result);
    c.eq(`recovered on ${a.name}`, state.config.placement.site, a.name);
    c.eq(
      'identity metadata (tenant, project, environment, external ids) kept verbatim',
      Object.fromEntries(Object.keys(identity).map((k) => [k, state.config.metadata[k]])),
      identity,
      `platform id ${state.ref.id === vm.id ? 'kept' : `new (${state.ref.id}, was ${vm.id})`}`,
    );
    c.eq(
      'same disks (by serial) as the original',
      state.config.disks.map((d) => [d.serial, d.role]),
      original.config.disks.map((d) => [d.serial, d.role]),
    );
    await ctx.time(`start on ${a.name}`, a.driver.start(restored.result));
    const { value: boot, waitedMs } = await waitGuest(ctx, restored.result, 'boot', bootNumber(1), a.driver);
    ctx.phase(`start -> guest ready on ${a.name}`, waitedMs);
    ctx.phase(`${b.name} lost -> recovered VM's guest ready on ${a.name}`, performance.now() - t0);
    const st = boot.states.at(-1);
    const mac = state.config.nics[0]?.mac ?? '';
    c.ok(
      `the guest boots on ${a.name} and is the recovered VM (its NIC)`,
      !!st && !!nicByMac(st, mac),
      `${mac} in ${JSON.stringify(st?.nics)}`,
    );
    if (canLose) {
      await b.control.restore?.();
      lost.delete(b);
      c.eq(`the original is still defined on ${b.name} after it returns`, (await b.driver.inspect(vm)).ref.id, vm.id);
    }
    await b.driver.deleteBackup(backup.id).catch(() => undefined);
  });
});

await currentRun();
