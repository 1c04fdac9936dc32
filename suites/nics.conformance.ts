/** NIC-01, NIC-02, NIC-03, NIC-05: chosen MACs, declared order, hotplug, external bridges. */
import { describe } from 'vitest';
import { Unsupported } from '../adapters/contract/index.js';
import { boots, lastState } from '../host/guest/report.js';
import {
  baseSpec,
  bootNumber,
  currentRun,
  ensureRunning,
  ensureStopped,
  fixture,
  ownedVms,
  type ReqContext,
  requirement,
  stopNow,
  waitGuest,
} from './harness.js';

const macs = {
  a: '52:54:00:20:00:0a',
  b: '52:54:00:20:00:0b',
  c: '52:54:00:20:00:0c',
  d: '52:54:00:20:00:0d',
  e: '52:54:00:20:00:0e',
};

describe('nics without a shared VM', () => {
  const vms = ownedVms();

  requirement(['NIC-04'], 'VLAN-backed isolation: same segment reaches, different segments do not', async (ctx) => {
    const reason = ctx.caps.prereqMissing.vlan;
    if (reason) return ctx.checks.prereqMissing('VLAN segments', reason);
    throw new Unsupported('the VLAN reachability check (three guests on two VLANs) is not implemented yet', 'adapter');
  });

  requirement(
    ['NIC-06'],
    "host network state outside the platform's declared objects is unchanged by a NIC-heavy run",
    async (ctx) => {
      const { t, checks: c } = ctx;
      const snap = t.control.hostNetworkSnapshot;
      if (!snap) return c.host.prereqMissing('host network snapshot', 'the lab gives no view of the host network');
      const before = await snap();
      const nics = [
        { network: t.lab.network },
        { network: t.lab.network2 },
        ...(t.lab.externalBridge ? [{ network: t.lab.externalBridge, external: true }] : []),
      ];
      const vm = await vms.create(ctx, baseSpec(ctx.run, 'nic6', { nics }));
      await t.driver.start(vm);
      await waitGuest(ctx, vm, 'boot', bootNumber(1));
      if (ctx.caps.hotplugNic) {
        await t.driver.attachNic(vm, { network: t.lab.network, mac: '52:54:00:60:00:01' });
        await t.driver.detachNic(vm, '52:54:00:60:00:01');
      }
      await stopNow(t.driver, vm);
      await t.driver.delete(vm);
      vms.all.splice(vms.all.indexOf(vm), 1);
      c.host.eq("links, addresses and routes outside the platform's objects", await snap(), before);
    },
  );
});

describe('nics', () => {
  const vms = ownedVms();
  /** The externally managed bridge the suite's VM gets a NIC on, where the lab has one the platform can attach. */
  const externalBridge = (ctx: ReqContext) =>
    ctx.t.lab.externalBridge && ctx.caps.externalBridge ? ctx.t.lab.externalBridge : undefined;
  // The VM NIC-05 creates (NICs a, b and c on the external bridge) and NIC-01..03 reuse; made by
  // whichever runs first. Without an external bridge it has only a and b: NIC-01..03 still apply.
  const nicVm = fixture(async (ctx) => {
    const { t } = ctx;
    const bridge = externalBridge(ctx);
    // The host's view of the bridge before anything of the suite touched it (NIC-05 and NIC-03 compare).
    const bridgeBefore = bridge ? await t.control.hostNetworkState?.() : undefined;
    const nics = [
      { network: t.lab.network, mac: macs.a },
      { network: t.lab.network2, mac: macs.b },
      ...(bridge ? [{ network: bridge, external: true, mac: macs.c }] : []),
    ];
    const vm = await vms.create(ctx, baseSpec(ctx.run, 'nic', { nics }));
    return { vm, bridgeBefore, declared: nics.map((n) => n.mac) };
  });
  /** NIC-02's precondition: the VM stopped, with NIC d attached after the declared ones (as NIC-01 leaves it). */
  const withAttachedNic = async (ctx: ReqContext) => {
    const f = await nicVm.get(ctx);
    await ensureStopped(ctx, f.vm);
    if (!(await ctx.t.driver.inspect(f.vm)).config.nics.some((n) => n.mac === macs.d))
      await ctx.t.driver.attachNic(f.vm, { network: ctx.t.lab.network, mac: macs.d });
    return { ...f, order: [...f.declared, macs.d] };
  };

  requirement(['NIC-05'], 'attach to an externally managed bridge without taking it over', async (ctx) => {
    const { t, checks: c } = ctx;
    const bridge = externalBridge(ctx);
    if (!bridge) return c.unsupported('external bridge attachment', 'no externally managed bridge can be attached');
    const { vm, bridgeBefore } = await nicVm.get(ctx);
    const nic = (await t.driver.inspect(vm)).config.nics.find((n) => n.mac === macs.c);
    c.eq('inspection shows the NIC on the external bridge', [nic?.network, nic?.external], [bridge, true]);
    c.ok(
      'the bridge is not turned into a platform network',
      !(await t.driver.networks()).some((n) => n.name === bridge || n.bridge === bridge),
    );
    await t.driver.start(vm);
    const { value: b } = await waitGuest(ctx, vm, 'boot', bootNumber(1));
    c.guest.ok('guest sees the external-bridge NIC', !!b.states.at(-1)?.nics.some((n) => n.mac === macs.c));
    if (bridgeBefore !== undefined)
      c.host.eq('bridge state unchanged by attaching', await t.control.hostNetworkState?.(), bridgeBefore);
  });

  requirement(['NIC-01'], 'attach a NIC to a named network with a caller-chosen MAC', async (ctx) => {
    const { vm: v } = await nicVm.get(ctx);
    const { t, checks: c } = ctx;
    await ensureStopped(ctx, v);
    const r = await ctx.time('attach-nic', t.driver.attachNic(v, { network: t.lab.network, mac: macs.d }));
    c.eq('attach returned the chosen MAC', r.result.mac, macs.d);
    const nic = (await t.driver.inspect(v)).config.nics.find((n) => n.mac === macs.d);
    c.eq('inspection shows the MAC on the named network', nic?.network, t.lab.network);
  });

  requirement(
    ['NIC-02'],
    'NICs appear in declared order in inspection and in the guest, stable across reboot',
    async (ctx) => {
      const { vm: v, order } = await withAttachedNic(ctx);
      const { t, checks: c } = ctx;
      c.eq(
        'inspection order',
        (await t.driver.inspect(v)).config.nics.map((n) => n.mac),
        order,
      );
      const n = boots(await t.driver.guest(v).read()).length;
      await t.driver.start(v);
      const count = ['', 'one', 'two', 'three', 'four'][order.length];
      const { value: b1 } = await waitGuest(ctx, v, `boot with ${count} NICs`, bootNumber(n + 1));
      c.guest.eq(
        `guest order (eth0..eth${order.length - 1})`,
        b1.states.at(-1)?.nics.map((x) => x.mac),
        order,
      );
      await ctx.time('reboot', t.driver.reboot(v));
      const { value: b2 } = await waitGuest(ctx, v, 'boot after reboot', bootNumber(n + 2));
      c.guest.eq(
        'guest order after reboot',
        b2.states.at(-1)?.nics.map((x) => x.mac),
        order,
      );
      c.guest.eq(
        'guest names after reboot',
        b2.states.at(-1)?.nics.map((x) => x.name),
        b1.states.at(-1)?.nics.map((x) => x.name),
      );
    },
  );

  requirement(['NIC-03'], 'hot-plug and unplug a NIC on a running VM', async (ctx) => {
    const { t, checks: c } = ctx;
    if (!ctx.caps.hotplugNic) return c.unsupported('NIC hotplug', 'the platform reports no NIC hotplug');
    const { vm: v, bridgeBefore } = await nicVm.get(ctx);
    await ensureRunning(ctx, v);
    await ctx.time('hot-attach-nic', t.driver.attachNic(v, { network: t.lab.network2, mac: macs.e }));
    c.ok(
      'inspection shows the hot-plugged NIC',
      (await t.driver.inspect(v)).config.nics.some((n) => n.mac === macs.e),
    );
    await waitGuest(ctx, v, 'hot-plugged NIC to appear', (r) => lastState(r)?.nics.find((n) => n.mac === macs.e));
    c.guest.ok('guest sees the hot-plugged NIC', true);
    await ctx.time('hot-detach-nic', t.driver.detachNic(v, macs.e));
    c.ok('inspection no longer shows it', !(await t.driver.inspect(v)).config.nics.some((n) => n.mac === macs.e));
    await waitGuest(ctx, v, 'unplugged NIC to go', (r) =>
      lastState(r)?.nics.some((n) => n.mac === macs.e) ? undefined : true,
    );
    c.guest.ok('guest no longer sees it', true);
    if (bridgeBefore !== undefined)
      c.host.eq('external bridge state unchanged after the suite', await t.control.hostNetworkState?.(), bridgeBefore);
  });
});

await currentRun();
