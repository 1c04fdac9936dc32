import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { buildGuest, guestArtefacts } from '../../host/guest/artefacts.js';
import { ensurePackages, findPid, readJson, type Say, sh, startDaemon, stopPid, writeJson } from '../../host/host.js';
import { defaultWaitPolicies, waitFor } from '../../host/wait.js';
import type { Capabilities } from '../contract/index.js';

export const libvirtLabDefaults = {
  root: '/var/lib/vmconform',
  uri: 'qemu:///system',
  pool: 'vmconform',
  imagePool: 'vmconform-images',
  image: 'vmc-base-v1',
  network: 'vmconform-net',
  network2: 'vmconform-net2',
  externalBridge: 'vmc-ext0',
};

export interface LibvirtLabState {
  accel: 'kvm' | 'tcg';
  accelReason: string;
  prereqMissing: Capabilities['prereqMissing'];
  kernel: string;
  initrd: string;
  consoleDir: string;
  startedPids: { libvirtd?: number; virtlogd?: number };
  createdBridge: boolean;
  /** A deliberately tiny pool for storage-full faults (OPS-01), or why the lab could not make one. */
  smallPool?: SmallPool | { missing: string };
  bringUp: { ms: number; at: string; cold: boolean };
  /** The last bring-up that started from nothing (kept across warm bring-ups, OPS-03). */
  coldBringUp?: { ms: number; at: string };
}

export interface SmallPool {
  name: string;
  path: string;
  capacityBytes: number;
}

export const packages = [
  'libvirt-daemon-system',
  'libvirt-clients',
  'qemu-system-x86',
  'qemu-utils',
  'ovmf',
  'dnsmasq-base',
  'busybox-static',
  'cpio',
  'genisoimage',
  'iproute2',
  // pgrep and sysctl: daemons are found by name and the external bridge is configured with sysctl.
  'procps',
];

const d = libvirtLabDefaults;
const statePath = join(d.root, 'libvirt', 'lab.json');
const _repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/**
 * libvirtd runs with the lab's own config file: access to the read-write socket by group (a documented
 * libvirt mode) instead of polkit, which needs a D-Bus system bus this machine does not run.
 */
const libvirtdConf = join(d.root, 'libvirt', 'libvirtd.conf');
const libvirtdArgs = ['-d', '-f', libvirtdConf];
const libvirtdConfText = [
  'unix_sock_group = "libvirt"',
  'unix_sock_ro_perms = "0777"',
  'unix_sock_rw_perms = "0770"',
  'auth_unix_ro = "none"',
  'auth_unix_rw = "none"',
  // No SMBIOS UUID on this kind of host: libvirt would invent a new host UUID at every start (ID-02).
  'host_uuid_source = "machine-id"',
  '',
].join('\n');

async function writeLibvirtdConf(): Promise<void> {
  await mkdir(dirname(libvirtdConf), { recursive: true });
  await writeFile(libvirtdConf, libvirtdConfText);
}

const virsh = (args: string[], allowFail = false) => sh('virsh', ['-c', d.uri, '-q', ...args], { allowFail });

export const readLibvirtLabState = () => readJson<LibvirtLabState>(statePath);

/**
 * Without udev /dev/kvm stays root-only. libvirt then judges KVM "not available now" for its qemu user
 * while its probe (as root) found it, discards its QEMU capability cache on every call, and each
 * define or capabilities call re-probes QEMU (8-90 s here). udev on Debian makes it root:kvm 0660.
 */
async function fixKvmNode(say: Say): Promise<void> {
  const st = await stat('/dev/kvm').catch(() => undefined);
  if (!st || (st.mode & 0o060) === 0o060) return;
  await sh('chown', ['root:kvm', '/dev/kvm']);
  await sh('chmod', ['0660', '/dev/kvm']);
  say('set /dev/kvm to root:kvm 0660 as udev would (libvirt re-probed QEMU on every call without it)');
}

async function waitForLibvirt(): Promise<void> {
  // The first connection after start probes QEMU capabilities (~12-40 s here).
  await waitFor('libvirtd to answer', { ...defaultWaitPolicies.daemon, deadlineMs: 120_000 }, async () =>
    (await virsh(['version'], true)).exitCode === 0 ? true : undefined,
  );
}

/** KVM is usable only if a guest really boots under it: /dev/kvm existing proves nothing nested. */
export async function probeKvm(
  kernel: string,
  initrd: string,
  say: Say,
): Promise<{ accel: 'kvm' | 'tcg'; reason: string }> {
  try {
    await stat('/dev/kvm');
  } catch {
    return { accel: 'tcg', reason: '/dev/kvm does not exist' };
  }
  const log = join(d.root, 'kvm-probe.log');
  await rm(log, { force: true });
  const proc = execa(
    'qemu-system-x86_64',
    [
      '-accel',
      'kvm',
      '-machine',
      'q35',
      '-m',
      '256',
      '-nodefaults',
      '-display',
      'none',
      '-no-reboot',
      '-kernel',
      kernel,
      '-initrd',
      initrd,
      '-append',
      'console=ttyS0 quiet panic=-1',
      '-serial',
      `file:${log}`,
    ],
    { reject: false, stdin: 'ignore' },
  );
  try {
    await waitFor(
      'guest READY under KVM',
      { deadlineMs: 45_000, intervalMs: 250, backoff: 1, maxIntervalMs: 250 },
      async () => {
        if (proc.exitCode !== null) return false;
        const text = await readFile(log, 'utf8').catch(() => '');
        return text.includes('VMC READY') ? true : undefined;
      },
    );
    if (proc.exitCode !== null) {
      const err = (await proc).stderr.trim();
      return { accel: 'tcg', reason: `QEMU with accel=kvm exited early: ${err.split('\n').pop()}` };
    }
    return { accel: 'kvm', reason: 'guest reached READY under accel=kvm' };
  } catch {
    const text = await readFile(log, 'utf8').catch(() => '');
    const last = text.trim().split('\n').pop() ?? '';
    return {
      accel: 'tcg',
      reason: `guest did not reach READY within 20 s under accel=kvm (nested KVM not working here); last console line: ${last.slice(0, 120) || '(none)'}`,
    };
  } finally {
    proc.kill('SIGKILL');
    await proc.catch(() => undefined);
    say('KVM probe finished');
  }
}

async function probeVlan(): Promise<string | undefined> {
  const r = await sh(
    'ip',
    ['link', 'add', 'link', d.externalBridge, 'name', 'vmc-vlanprobe', 'type', 'vlan', 'id', '10'],
    { allowFail: true },
  );
  if (r.exitCode === 0) {
    await sh('ip', ['link', 'del', 'vmc-vlanprobe'], { allowFail: true });
    // libvirt applies VLAN tags only on Open vSwitch ports.
    if (!(await sh('sh', ['-c', 'command -v ovs-vsctl'], { allowFail: true })).stdout.trim()) {
      return 'the kernel has 802.1q, but libvirt VLAN tags need an Open vSwitch bridge and ovs-vsctl is not installed';
    }
    return undefined;
  }
  return `this kernel cannot create 802.1q VLAN interfaces (ip link add type vlan: ${r.stderr.trim()}); libvirt VLAN tags also need Open vSwitch`;
}

async function ensurePool(name: string, path: string): Promise<void> {
  await mkdir(path, { recursive: true });
  if ((await virsh(['pool-info', name], true)).exitCode !== 0) {
    await virsh(['pool-define-as', name, 'dir', '--target', path]);
  }
  if (!(await virsh(['pool-info', name])).stdout.includes('running')) await virsh(['pool-start', name]);
  await virsh(['pool-refresh', name]);
}

async function ensureNetwork(name: string, bridge: string): Promise<void> {
  if ((await virsh(['net-info', name], true)).exitCode !== 0) {
    // Isolated, no IP: guests need no traffic outside, and nothing is routed off the host.
    const xml = `<network><name>${name}</name><bridge name='${bridge}' stp='off'/></network>`;
    const f = join(d.root, `${name}.xml`);
    await sh('sh', ['-c', `cat > ${f} <<'X'\n${xml}\nX`]);
    await virsh(['net-define', f]);
  }
  if (!/Active:\s+yes/.test((await virsh(['net-info', name])).stdout)) await virsh(['net-start', name]);
}

async function ensureImage(base: string): Promise<void> {
  const size = (await stat(base)).size;
  if ((await virsh(['vol-info', d.image, '--pool', d.imagePool], true)).exitCode === 0) return;
  await virsh(['vol-create-as', d.imagePool, d.image, `${size}B`, '--format', 'raw']);
  await virsh(['vol-upload', d.image, base, '--pool', d.imagePool]);
}

export async function libvirtUp(say: Say): Promise<LibvirtLabState> {
  const t0 = performance.now();
  const previous = await readLibvirtLabState();
  await ensurePackages(packages, say);
  await fixKvmNode(say);
  await writeLibvirtdConf();
  const libvirtd = await startDaemon('libvirtd', libvirtdArgs, say);
  const virtlogd = await startDaemon('virtlogd', ['-d'], say);
  await waitForLibvirt();
  say('libvirtd answers');

  say(await buildGuest());
  const { kernel, initrd, base } = await guestArtefacts();

  const accel = previous?.accel
    ? { accel: previous.accel, reason: previous.accelReason }
    : await probeKvm(kernel, initrd, say);
  say(`accelerator: ${accel.accel} (${accel.reason})`);

  await ensurePool(d.pool, join(d.root, 'libvirt', 'pool'));
  await ensurePool(d.imagePool, join(d.root, 'libvirt', 'images'));
  await ensureImage(base);
  await ensureNetwork(d.network, 'vmcbr0');
  await ensureNetwork(d.network2, 'vmcbr1');

  let createdBridge = previous?.createdBridge ?? false;
  if ((await sh('ip', ['link', 'show', d.externalBridge], { allowFail: true })).exitCode !== 0) {
    await sh('ip', ['link', 'add', d.externalBridge, 'type', 'bridge']);
    createdBridge = true;
  }
  // A fixed MAC: a Linux bridge otherwise adopts its lowest port MAC, which would read as drift.
  if (createdBridge) await sh('ip', ['link', 'set', d.externalBridge, 'address', '02:76:6d:63:00:01']);
  // Like a Nett-managed bridge: no kernel-generated link-local address when its first port comes up.
  await sh('ip', ['link', 'set', d.externalBridge, 'addrgenmode', 'none']);
  // An L2-only bridge: without this the kernel adds IPv6 routes for it when its first port comes up (NIC-06).
  await sh('sysctl', ['-q', '-w', `net.ipv6.conf.${d.externalBridge}.disable_ipv6=1`]);
  await sh('ip', ['link', 'set', d.externalBridge, 'up']);
  const consoleDir = join(d.root, 'libvirt', 'console');
  await mkdir(consoleDir, { recursive: true });

  const smallPool = await ensureSmallPool(say);
  const vlan = await probeVlan();
  const ms = Math.round(performance.now() - t0);
  const state: LibvirtLabState = {
    accel: accel.accel,
    accelReason: accel.reason,
    prereqMissing: {
      ...(vlan ? { vlan } : {}),
      ...(accel.accel === 'kvm' ? {} : { kvm: accel.reason }),
      'second-site':
        'the local lab has one libvirt host and no second site (a second host with its own site label is not built yet)',
    },
    kernel,
    initrd,
    consoleDir,
    startedPids: {
      ...((libvirtd ?? previous?.startedPids.libvirtd) ? { libvirtd: libvirtd ?? previous?.startedPids.libvirtd } : {}),
      ...((virtlogd ?? previous?.startedPids.virtlogd) ? { virtlogd: virtlogd ?? previous?.startedPids.virtlogd } : {}),
    },
    createdBridge,
    smallPool,
    bringUp: { ms, at: new Date().toISOString(), cold: !previous },
    ...(previous
      ? previous.coldBringUp
        ? { coldBringUp: previous.coldBringUp }
        : {}
      : { coldBringUp: { ms, at: new Date().toISOString() } }),
  };
  await writeJson(statePath, state);
  say(`libvirt lab up in ${(ms / 1000).toFixed(1)} s (${previous ? 'warm' : 'cold'})`);
  return state;
}

export const smallPoolName = 'vmconform-small';
const smallPoolPath = join(d.root, 'libvirt', 'small');
const smallPoolMiB = 16;

/**
 * A 16 MiB tmpfs under a dir pool: a pool that really fills up, for storage-full faults, without
 * touching the host's disks. Mounted once; `down --purge` unmounts it.
 */
async function ensureSmallPool(say: Say): Promise<SmallPool | { missing: string }> {
  await mkdir(smallPoolPath, { recursive: true });
  const mounted = (await readFile('/proc/mounts', 'utf8')).split('\n').some((l) => l.split(' ')[1] === smallPoolPath);
  if (!mounted) {
    const r = await sh(
      'mount',
      ['-t', 'tmpfs', '-o', `size=${smallPoolMiB}m,mode=0755`, 'vmconform-small', smallPoolPath],
      {
        allowFail: true,
      },
    );
    if (r.exitCode !== 0)
      return { missing: `cannot mount a ${smallPoolMiB} MiB tmpfs for the small pool: ${r.stderr.trim()}` };
    say(`mounted a ${smallPoolMiB} MiB tmpfs at ${smallPoolPath} for the storage-full pool`);
  }
  await ensurePool(smallPoolName, smallPoolPath);
  const info = (await virsh(['pool-info', smallPoolName, '--bytes'])).stdout;
  const capacityBytes = Number(/Capacity:\s+(\d+)/.exec(info)?.[1] ?? 0);
  return { name: smallPoolName, path: smallPoolPath, capacityBytes };
}

async function removeSmallPool(): Promise<void> {
  for (const v of (await virsh(['vol-list', smallPoolName], true)).stdout.split('\n')) {
    const name = v.trim().split(/\s+/)[0];
    if (name) await virsh(['vol-delete', name, '--pool', smallPoolName], true);
  }
  await virsh(['pool-destroy', smallPoolName], true);
  await virsh(['pool-undefine', smallPoolName], true);
  await sh('umount', [smallPoolPath], { allowFail: true });
}

/**
 * The running libvirtd that uses the lab's own config file: only the lab starts libvirtd with it, so
 * this is ours whatever the state file says (another libvirtd, e.g. a second site's, is never matched).
 */
export async function labLibvirtdPid(): Promise<number | undefined> {
  const r = await sh('pgrep', ['-f', `^libvirtd .*-f ${libvirtdConf}`], { allowFail: true });
  const pid = Number(r.stdout.trim().split('\n')[0]);
  return Number.isFinite(pid) && pid > 0 ? pid : undefined;
}

/** Stops the lab's libvirtd (VMs keep running under QEMU): the control daemon is down (OPS-01). */
export async function stopLibvirtd(say: Say): Promise<void> {
  const pid = await labLibvirtdPid();
  if (!pid) throw new Error(`no libvirtd running with the lab's ${libvirtdConf}; refusing to stop any other`);
  await stopPid(pid, 'libvirtd', say);
}

/** Starts the lab's libvirtd again and waits until it answers; records the new pid. */
export async function startLibvirtd(say: Say): Promise<void> {
  if (!(await labLibvirtdPid())) await sh('libvirtd', libvirtdArgs);
  const { value } = await waitFor('the lab libvirtd to start', defaultWaitPolicies.daemon, labLibvirtdPid);
  await waitForLibvirt();
  say(`libvirtd answers again (pid ${value})`);
  const state = await readLibvirtLabState();
  if (state) await writeJson(statePath, { ...state, startedPids: { ...state.startedPids, libvirtd: value } });
}

/** Restarts libvirtd: VMs must survive it (ID-01, ID-02). Only the libvirtd running on the lab's own config is restarted. */
export async function restartLibvirtd(say: Say): Promise<void> {
  await stopLibvirtd(say);
  await startLibvirtd(say);
}

/** Removes the domains carrying the ownership tag on a libvirt host; anything else there is left alone. */
export async function removeOwnedDomains(uri: string, say: Say): Promise<void> {
  const run = (args: string[]) => sh('virsh', ['-c', uri, '-q', ...args], { allowFail: true });
  const uuids = (await run(['list', '--all', '--uuid'])).stdout
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const id of uuids) {
    const meta = await run(['metadata', id, '--uri', 'urn:dataverket:vmconform:1']);
    if (meta.exitCode !== 0 || !meta.stdout.includes('marker="vmconform"')) continue;
    await run(['destroy', id]);
    await run(['undefine', id]);
    say(`removed leftover domain ${id} (${uri.split('?')[0]})`);
  }
}

/** `purge` also removes what makes the next bring-up warm: pools, image, networks, guest artefacts, lab state. */
export async function libvirtDown(say: Say, opts: { purge?: boolean } = {}): Promise<void> {
  const state = await readLibvirtLabState();
  if ((await virsh(['version'], true)).exitCode === 0) {
    await removeOwnedDomains(d.uri, say);
    for (const n of [d.network, d.network2]) await virsh(['net-destroy', n], true);
    if (opts.purge) {
      await removeSmallPool();
      for (const n of [d.network, d.network2]) await virsh(['net-undefine', n], true);
      for (const p of [d.pool, d.imagePool]) {
        const vols = (await virsh(['vol-list', p], true)).stdout
          .split('\n')
          .map((l) => l.trim().split(/\s+/)[0])
          .filter(Boolean);
        for (const v of vols) await virsh(['vol-delete', v as string, '--pool', p], true);
        await virsh(['pool-destroy', p], true);
        await virsh(['pool-undefine', p], true);
      }
    }
  } else if (opts.purge) {
    say(
      'libvirtd is not answering: pools and networks stay defined (run lab up, then lab down --purge, to remove them)',
    );
  }
  if (state?.createdBridge) await sh('ip', ['link', 'del', d.externalBridge], { allowFail: true });
  for (const [name, pid] of Object.entries(state?.startedPids ?? {})) {
    if (pid && (await findPid(name)) === pid) await stopPid(pid, name, say);
  }
  if (opts.purge) {
    await rm(d.root, { recursive: true, force: true });
    say(`purged ${d.root} and the lab's pools, image and networks`);
  } else if (state) await writeJson(statePath, { ...state, startedPids: {}, createdBridge: false });
  say('libvirt lab down');
}
