/** The libvirt target: the driver from lab config plus the lab's own facts and controls. */

import { readFile, stat } from 'node:fs/promises';
import { ConfigInvalid } from '../../evidence/errors.js';
import { guestArtefacts } from '../../host/guest/artefacts.js';
import { sh } from '../../host/host.js';
import { bridgeState, hostNetworkSnapshot } from '../../host/network.js';
import {
  type ConnectOptions,
  type LabFacts,
  PrereqMissing,
  resolveSecret,
  type Site,
  type Target,
} from '../contract/index.js';
import { type LibvirtConfig, libvirtDriver } from './adapter.js';
import type { LibvirtPlatformConfig, LibvirtSiteConfig } from './config.js';
import { readLibvirtLabState, restartLibvirtd, startLibvirtd, stopLibvirtd } from './lab.js';
import { knownHostKeys, type RemoteHost } from './remote-console.js';
import { cutSiteBLink, restoreSiteBLink, siteB, siteBRunning } from './site-b/lab.js';

/** ssh access for the guest view of a remote site; the key is a secret reference, resolved here. */
async function remoteHost(s: Pick<LibvirtSiteConfig, 'uri' | 'ssh'>, field: string): Promise<RemoteHost | undefined> {
  const url = new URL(s.uri);
  // A local URI needs no ssh: the console log is a local file.
  if (!s.ssh || !url.host) return undefined;
  if (!s.ssh.knownHosts)
    throw new ConfigInvalid(
      `${field}.ssh.knownHosts: expected a known_hosts file for ${url.hostname} (host keys are verified)`,
    );
  const text = await readFile(s.ssh.knownHosts, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new ConfigInvalid(`${field}.ssh.knownHosts: cannot read ${s.ssh?.knownHosts} (${e.code ?? e.message})`);
  });
  const hostKeys = knownHostKeys(text, url.hostname);
  if (hostKeys.length === 0)
    throw new ConfigInvalid(`${field}.ssh.knownHosts: no key for ${url.hostname} in ${s.ssh.knownHosts}`);
  return {
    host: url.hostname,
    port: Number(url.port || 22),
    username: s.ssh.user,
    privateKey: await resolveSecret(s.ssh.privateKey, `${field}.ssh.privateKey`),
    hostKeys,
  };
}

/** Further sites: each its own libvirt host and driver, labelled from the config. */
async function siteEntries(
  config: LibvirtPlatformConfig,
  base: LibvirtConfig,
  lab: LabFacts,
  opts: ConnectOptions,
): Promise<{ sites: Site[]; missing: string[] }> {
  const out: Site[] = [];
  const missing: string[] = [];
  for (const [i, s] of config.sites.entries()) {
    const field = `platforms.libvirt.sites[${i}]`;
    const running = s.lab === siteB.name ? await siteBRunning() : undefined;
    // A local site that is not up leaves the multi-site suites prereq-missing; every other suite still runs.
    if (typeof running === 'string') {
      missing.push(`${s.name}: ${running}`);
      continue;
    }
    const local = running;
    const consoleDir = s.consoleDir ?? local?.consoleDir;
    if (!consoleDir)
      throw new ConfigInvalid(`${field}.consoleDir: expected the directory the site's domains log their console to`);
    const remote = await remoteHost(s, field);
    const { remote: _mainSite, ...common } = base;
    const driver = libvirtDriver(
      {
        ...common,
        uri: s.uri,
        consoleDir,
        site: s.name,
        ...(s.failureDomain ? { failureDomain: s.failureDomain } : { failureDomain: undefined }),
        ...(remote ? { remote } : {}),
        // A lost site must fail each call in bounded time; ssh's own connect timeout is shorter.
        commandTimeoutMs: 60_000,
      },
      { runId: opts.runId, transcript: opts.transcript },
    );
    const control = local && s.labControl ? { lose: cutSiteBLink, restore: restoreSiteBLink } : {};
    out.push({ name: s.name, ...(s.failureDomain ? { failureDomain: s.failureDomain } : {}), driver, lab, control });
  }
  return { sites: out, missing };
}

export async function connectLibvirt(c: LibvirtPlatformConfig, opts: ConnectOptions): Promise<Target> {
  const state = await readLibvirtLabState();
  if (!state) throw new PrereqMissing('the libvirt lab state is missing: run `vmconform lab up libvirt` first');
  const accel = c.accel === 'auto' ? state.accel : c.accel;
  // This checkout's guest, not whichever another checkout's `lab up` recorded last.
  const guest = await guestArtefacts();
  if (!(await stat(guest.initrd).catch(() => undefined)))
    throw new PrereqMissing(
      `the guest for this checkout is not built (${guest.initrd}): run \`vmconform lab up libvirt\``,
    );
  const driverConfig: LibvirtConfig = {
    uri: c.uri,
    pool: c.pool,
    imagePool: c.imagePool,
    accel,
    kernel: guest.kernel,
    initrd: guest.initrd,
    cmdline: 'console=ttyS0 quiet panic=-1',
    consoleDir: c.consoleDir ?? state.consoleDir,
    bootDiskBytes: 64 * 1024 * 1024,
    ...(c.site ? { site: c.site } : {}),
    ...(c.failureDomain ? { failureDomain: c.failureDomain } : {}),
    prereqMissing: {
      // A second site declared in the config is no longer a missing prerequisite.
      ...Object.fromEntries(
        Object.entries(state.prereqMissing).filter(([k]) => k !== 'second-site' || c.sites.length === 0),
      ),
      ...(c.talosImage
        ? {}
        : {
            'talos-image': 'the lab config names no Talos image (platforms.libvirt.talosImage: a raw Talos disk image)',
          }),
    },
    ...(c.waits ? { waits: c.waits } : {}),
    ...(c.emulator ? { emulator: c.emulator } : {}),
  };
  const remote = await remoteHost(c, 'platforms.libvirt');
  if (remote) driverConfig.remote = remote;
  // The small pool exists only on the embedded local lab (lab up measured it).
  const small =
    c.uri === 'qemu:///system' && state.smallPool && 'name' in state.smallPool ? state.smallPool : undefined;
  const driver = libvirtDriver(
    { ...driverConfig, ...(small ? { ownedPools: [small.name] } : {}) },
    { runId: opts.runId, transcript: opts.transcript },
  );
  const say = opts.log ?? (() => undefined);
  const lab: LabFacts = {
    network: c.network,
    network2: c.network2,
    externalBridge: c.externalBridge,
    image: c.image,
    ...(c.talosImage ? { talosImage: c.talosImage } : {}),
    ...(small ? { smallPool: { name: small.name, capacityBytes: small.capacityBytes } } : {}),
  };
  const { sites: further, missing } = await siteEntries(c, driverConfig, lab, opts);
  // Shared by every site's driver config (the same object): their capabilities agree.
  if (missing.length > 0) driverConfig.prereqMissing['second-site'] = missing.join('; ');
  return {
    driver,
    runId: opts.runId,
    lab,
    ...(c.site
      ? {
          sites: [
            { name: c.site, ...(c.failureDomain ? { failureDomain: c.failureDomain } : {}), driver, lab, control: {} },
            ...further,
          ],
        }
      : {}),
    control: {
      ...(c.labControl
        ? {
            restartDaemon: () => restartLibvirtd(say),
            stopDaemon: () => stopLibvirtd(say),
            startDaemon: () => startLibvirtd(say),
          }
        : {}),
      ...(small
        ? {
            smallPoolDriver: () =>
              libvirtDriver(
                { ...driverConfig, pool: small.name, allocation: 'full' },
                { runId: opts.runId, transcript: opts.transcript },
              ),
          }
        : {}),
      hostNetworkState: () => bridgeState(c.externalBridge),
      hostNetworkSnapshot: () => hostNetworkSnapshot(/^(vnet\d+|vmcbr\d+|virbr\d+(-nic)?)$/),
      outOfBandStop: async (vm) => void (await sh('virsh', ['-c', c.uri, 'destroy', vm.id])),
      // lab.json describes the embedded local lab only: a remote host has no record here.
      ...(c.uri.startsWith('qemu:///')
        ? {
            labRecord: async () => {
              const s = await readLibvirtLabState();
              return (
                s && {
                  command: 'vmconform lab up libvirt',
                  manualSteps: [],
                  lastBringUp: s.bringUp,
                  ...(s.coldBringUp ? { coldBringUp: s.coldBringUp } : {}),
                }
              );
            },
          }
        : {}),
      // A local unprivileged user (nobody) has no rights on qemu:///system: the platform must say so, typed.
      ...(c.uri.startsWith('qemu:///')
        ? {
            badCredentials: () =>
              libvirtDriver({ ...driverConfig, uid: 65534 }, { runId: opts.runId, transcript: opts.transcript }),
          }
        : {}),
    },
  };
}
