/** Builds a Target (driver + lab facts + lab controls) for a platform from validated lab config. */
import type { LabConfig } from '../lab/config.js';
import { sh } from '../lab/host.js';
import { readLibvirtLabState, restartLibvirtd } from '../lab/libvirt/lab.js';
import type { Transcript } from '../reports/transcript.js';
import { type Platform, PrereqMissing, type Target } from './driver.js';
import { ConfigInvalid } from './errors.js';
import { type LibvirtConfig, LibvirtDriver } from './libvirt/adapter.js';

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
  const routes = (await json(['route', 'show', 'table', 'all'])).filter(keep);
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

export interface TargetOptions {
  runId: string;
  transcript: Transcript;
  log?: (msg: string) => void;
}

export async function connectTarget(platform: Platform, config: LabConfig, opts: TargetOptions): Promise<Target> {
  if (platform !== 'libvirt')
    throw new ConfigInvalid(`platform '${platform}': no adapter in this build yet (available: libvirt)`);
  const c = config.platforms.libvirt;
  if (!c)
    throw new ConfigInvalid(
      `platforms.libvirt: missing from the lab config (expected a libvirt section to run libvirt)`,
    );
  const state = await readLibvirtLabState();
  if (!state) throw new PrereqMissing('the libvirt lab state is missing: run `vmconform lab up libvirt` first');
  const accel = c.accel === 'auto' ? state.accel : c.accel;
  const driverConfig: LibvirtConfig = {
    uri: c.uri,
    pool: c.pool,
    imagePool: c.imagePool,
    accel,
    kernel: state.kernel,
    initrd: state.initrd,
    cmdline: 'console=ttyS0 quiet panic=-1',
    consoleDir: state.consoleDir,
    bootDiskBytes: 64 * 1024 * 1024,
    ...(c.site ? { site: c.site } : {}),
    ...(c.failureDomain ? { failureDomain: c.failureDomain } : {}),
    prereqMissing: state.prereqMissing,
    ...(c.waits ? { waits: c.waits } : {}),
  };
  const driver = new LibvirtDriver(driverConfig, { runId: opts.runId, transcript: opts.transcript });
  const say = opts.log ?? (() => undefined);
  return {
    driver,
    runId: opts.runId,
    lab: { network: c.network, network2: c.network2, externalBridge: c.externalBridge, image: c.image },
    control: {
      ...(c.labControl ? { restartDaemon: () => restartLibvirtd(say) } : {}),
      hostNetworkState: () => bridgeState(c.externalBridge),
      hostNetworkSnapshot: () => hostNetworkSnapshot(/^(vnet\d+|vmcbr\d+|virbr\d+(-nic)?)$/),
      outOfBandStop: async (vm) => void (await sh('virsh', ['-c', c.uri, 'destroy', vm.id])),
      // A local unprivileged user (nobody) has no rights on qemu:///system: the platform must say so, typed.
      ...(c.uri.startsWith('qemu:///')
        ? {
            badCredentials: () =>
              new LibvirtDriver({ ...driverConfig, uid: 65534 }, { runId: opts.runId, transcript: opts.transcript }),
          }
        : {}),
    },
  };
}
