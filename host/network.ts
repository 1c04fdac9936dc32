/** Host network views the suites compare before and after (NIC-05, NIC-06); shared by every local lab. */
import { sh } from './host.js';

/** Drops the carrier-derived `linkdown` flag from a route, keeping every configured field. */
export function withoutCarrier(route: Record<string, unknown>): Record<string, unknown> {
  if (!Array.isArray(route.flags)) return route;
  return { ...route, flags: route.flags.filter((f) => f !== 'linkdown') };
}

/**
 * Links (with their own settings, not counters or carrier), addresses and routes of the host, except
 * interfaces matching `declared`: the platform's own network bridges and the taps of its VMs.
 */
export async function hostNetworkSnapshot(declared: RegExp): Promise<string> {
  const json = async (args: string[]) =>
    JSON.parse((await sh('ip', ['-j', ...args])).stdout || '[]') as Record<string, unknown>[];
  const keep = (l: Record<string, unknown>) => !declared.test(String(l.ifname ?? l.dev ?? ''));
  const links = (await json(['-d', 'link', 'show'])).filter(keep).map((l) => ({
    name: l.ifname,
    kind: (l.linkinfo as { info_kind?: string } | undefined)?.info_kind,
    mtu: l.mtu,
    mac: l.address,
    master: l.master,
    up: Array.isArray(l.flags) && l.flags.includes('UP'),
  }));
  const addrs = (await json(['addr', 'show'])).filter(keep).map((l) => ({ name: l.ifname, addrs: l.addr_info }));
  // A route's `linkdown` flag is its device's carrier, which any port joining a bridge changes (another
  // platform's instance, a site link): carrier is state, not configuration, as for links above.
  const routes = (await json(['route', 'show', 'table', 'all'])).filter(keep).map(withoutCarrier);
  return JSON.stringify({ links, addrs, routes });
}

/** The bridge's own configuration (not its ports or carrier, which attaching a VM rightly changes). */
export async function bridgeState(bridge: string): Promise<string> {
  const r = await sh('ip', ['-j', '-d', 'addr', 'show', 'dev', bridge], { allowFail: true });
  if (r.exitCode !== 0) return `absent: ${r.stderr.trim()}`;
  const [l] = JSON.parse(r.stdout) as {
    ifname: string;
    mtu: number;
    address: string;
    addr_info: unknown[];
    linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
  }[];
  const data = l?.linkinfo?.info_data ?? {};
  return JSON.stringify({
    name: l?.ifname,
    kind: l?.linkinfo?.info_kind,
    mtu: l?.mtu,
    mac: l?.address,
    addresses: l?.addr_info,
    stp: data.stp_state,
    vlanFiltering: data.vlan_filtering,
    forwardDelay: data.forward_delay,
  });
}
