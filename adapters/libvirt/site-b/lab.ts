/**
 * The second lab site (MDC-01..04) on this machine: a network namespace holding its own libvirtd and
 * virtlogd with their own config, state, run, cache and log directories (a private mount namespace,
 * see inside.sh), reached from the host only over SSH through a veth pair in a /30 that clashes with
 * nothing on the host. `down` stops exactly the PIDs `up` started and removes only the namespace and
 * veth it made.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PrereqMissing } from '../../../evidence/errors.js';
import { guestArtefacts } from '../../../host/guest/artefacts.js';
import { ensurePackages, pidAlive, readJson, type Say, sh, stopPid, writeJson } from '../../../host/host.js';
import { defaultWaitPolicies, waitFor } from '../../../host/wait.js';
import { libvirtLabDefaults, readLibvirtLabState, removeOwnedDomains } from '../lab.js';

export const siteB = {
  name: 'site-b',
  root: join(libvirtLabDefaults.root, 'site-b'),
  netns: 'vmc-siteb',
  hostIf: 'vmc-siteb0',
  nsIf: 'vmc-siteb1',
  /** 172.31.250.0/30: private, unused here and by the other labs (checked at every bring-up). */
  hostAddr: '172.31.250.1',
  siteAddr: '172.31.250.2',
  prefix: 30,
  user: 'root',
};

const root = siteB.root;
const paths = {
  state: join(root, 'lab.json'),
  pids: join(root, 'pids'),
  etc: join(root, 'etc'),
  sshDir: join(root, 'ssh'),
  hostKey: join(root, 'ssh', 'host_ed25519'),
  clientKey: join(root, 'ssh', 'id_ed25519'),
  knownHosts: join(root, 'ssh', 'known_hosts'),
  sshWrapper: join(root, 'ssh', 'ssh'),
  pool: join(root, 'pool'),
  images: join(root, 'images'),
  console: join(root, 'console'),
};
export const siteBPaths = paths;

/** libvirt's ssh transport runs `command` instead of ssh: that is how it uses the lab's key and known_hosts. */
export const siteBUri = `qemu+ssh://${siteB.user}@${siteB.siteAddr}/system?command=${paths.sshWrapper}`;

export const siteBPackages = ['openssh-server', 'openssh-client', 'iproute2', 'util-linux'];
const daemons = ['virtlogd', 'libvirtd', 'sshd'] as const;
type Daemon = (typeof daemons)[number];
/** Site B's daemons run under these process names (symlinks in its bin/), never the host's. */
const binaries: Record<Daemon, string> = {
  virtlogd: '/usr/sbin/virtlogd',
  libvirtd: '/usr/sbin/libvirtd',
  sshd: '/usr/sbin/sshd',
};
const processName = (d: Daemon) => `${d}-siteb`;

export interface SiteBLabState {
  uri: string;
  address: string;
  consoleDir: string;
  hostUuid: string;
  startedPids: Partial<Record<Daemon, number>>;
  createdNetns: boolean;
  bringUp: { ms: number; at: string; cold: boolean; daemonsReadyMs?: number };
  /** False from the moment daemons start until the bring-up finished (networks, pool, image). */
  ready?: boolean;
  /** Resident memory of site B's daemons after bring-up (KiB), from /proc/PID/status. */
  rssKiB?: Partial<Record<Daemon, number>>;
}

/** The bridges of site B's two isolated networks; they exist only inside its namespace. */
const bridges = ['vmcbr0', 'vmcbr1'] as const;

export const readSiteBState = () => readJson<SiteBLabState>(paths.state);

const virsh = (args: string[], allowFail = false) => sh('virsh', ['-c', siteBUri, '-q', ...args], { allowFail });

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

/** A PID we recorded that is still that daemon (not a recycled PID). */
async function stillOurs(name: Daemon, pid: number | undefined): Promise<boolean> {
  if (!pid || !(await pidAlive(pid))) return false;
  const comm = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
  return comm === processName(name);
}

/** Refuses a /30 that overlaps any address or route on the host (another lab, a real network). */
async function checkNoClash(): Promise<void> {
  const inNet = (a: string) => a.startsWith('172.31.250.');
  const addrs = JSON.parse((await sh('ip', ['-j', 'addr'])).stdout) as {
    ifname: string;
    addr_info: { local: string }[];
  }[];
  const routes = (
    JSON.parse((await sh('ip', ['-j', 'route'])).stdout) as {
      dst: string;
      dev?: string;
      type?: string;
      metric?: number;
    }[]
  ).filter((r) => !(r.type === 'unreachable' && r.metric === 4242)); // our own guard route
  const clash = [
    ...addrs.filter((l) => l.ifname !== siteB.hostIf && l.addr_info.some((a) => inNet(a.local))).map((l) => l.ifname),
    ...routes
      .filter((r) => r.dev !== siteB.hostIf && (inNet(r.dst) || r.dst === '172.31.0.0/16'))
      .map((r) => r.dev ?? r.type ?? 'a route'),
  ];
  if (clash.length > 0)
    throw new PrereqMissing(
      `site B's link 172.31.250.0/30 clashes with ${[...new Set(clash)].join(', ')} on this host; free it first`,
    );
}

async function ensureFiles(hostUuid: string): Promise<void> {
  for (const d of ['etc', 'lib', 'cache', 'log', 'pids', 'ssh', 'pool', 'images', 'console', 'bin'])
    await mkdir(join(root, d), { recursive: true });
  for (const d of daemons) {
    const link = join(root, 'bin', processName(d));
    await rm(link, { force: true });
    await symlink(binaries[d], link);
  }
  await writeFile(
    join(paths.etc, 'libvirtd.conf'),
    [
      // Root only, reached through sshd: the ssh login is the authentication.
      'unix_sock_rw_perms = "0700"',
      'auth_unix_ro = "none"',
      'auth_unix_rw = "none"',
      // Its own host identity, stable across restarts (the host's is the machine-id).
      `host_uuid = "${hostUuid}"`,
      '',
    ].join('\n'),
  );
  // The distribution's qemu.conf (all defaults): site B runs guests as the host does.
  if (!(await exists(join(paths.etc, 'qemu.conf'))))
    await writeFile(join(paths.etc, 'qemu.conf'), await readFile('/etc/libvirt/qemu.conf', 'utf8'));
  for (const [key, comment] of [
    [paths.hostKey, 'vmc-siteb-host'],
    [paths.clientKey, 'vmc-siteb-client'],
  ] as const) {
    if (!(await exists(key))) await sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', key]);
  }
  const clientPub = await readFile(`${paths.clientKey}.pub`, 'utf8');
  await writeFile(join(paths.sshDir, 'authorized_keys'), clientPub, { mode: 0o600 });
  const hostPub = (await readFile(`${paths.hostKey}.pub`, 'utf8')).trim().split(/\s+/).slice(0, 2).join(' ');
  await writeFile(paths.knownHosts, `${siteB.siteAddr} ${hostPub}\n`);
  await writeFile(
    join(paths.sshDir, 'sshd_config'),
    [
      // Only the namespace's own address: nothing outside the lab's veth can reach it.
      `ListenAddress ${siteB.siteAddr}`,
      `HostKey ${paths.hostKey}`,
      `PidFile ${join(paths.pids, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(paths.sshDir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'X11Forwarding no',
      'AllowTcpForwarding no',
      'Subsystem sftp /usr/lib/openssh/sftp-server',
      '',
    ].join('\n'),
  );
  await writeFile(
    paths.sshWrapper,
    [
      '#!/bin/sh',
      "# libvirt's ssh transport runs this: the lab's key and known_hosts, no prompts, a bounded connect.",
      `exec ssh -i ${paths.clientKey} -o UserKnownHostsFile=${paths.knownHosts} -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=5 "$@"`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
}

async function ensureLink(): Promise<boolean> {
  const netnsList = (await sh('ip', ['netns', 'list'])).stdout;
  let created = false;
  if (!netnsList.split('\n').some((l) => l.split(' ')[0] === siteB.netns)) {
    await sh('ip', ['netns', 'add', siteB.netns]);
    created = true;
  }
  if ((await sh('ip', ['link', 'show', siteB.hostIf], { allowFail: true })).exitCode !== 0) {
    await checkNoClash();
    await sh('ip', ['link', 'add', siteB.hostIf, 'type', 'veth', 'peer', 'name', siteB.nsIf, 'netns', siteB.netns]);
    await sh('ip', ['addr', 'add', `${siteB.hostAddr}/${siteB.prefix}`, 'dev', siteB.hostIf]);
    await sh('ip', ['-n', siteB.netns, 'addr', 'add', `${siteB.siteAddr}/${siteB.prefix}`, 'dev', siteB.nsIf]);
    // A point-to-point lab link: no kernel IPv6 link-local traffic or routes on either end.
    await sh('ip', ['link', 'set', siteB.hostIf, 'addrgenmode', 'none']);
    await sh('ip', ['-n', siteB.netns, 'link', 'set', siteB.nsIf, 'addrgenmode', 'none']);
  }
  await sh('ip', ['route', 'replace', ...guardRoute]);
  await sh('ip', ['-n', siteB.netns, 'link', 'set', siteB.nsIf, 'up']);
  await sh('ip', ['link', 'set', siteB.hostIf, 'up']);
  return created;
}

async function readPids(): Promise<Partial<Record<Daemon, number>>> {
  const out: Partial<Record<Daemon, number>> = {};
  for (const d of daemons) {
    const pid = Number((await readFile(join(paths.pids, `${d}.pid`), 'utf8').catch(() => '')).trim());
    if (pid > 0) out[d] = pid;
  }
  return out;
}

async function rss(pids: Partial<Record<Daemon, number>>): Promise<Partial<Record<Daemon, number>>> {
  const out: Partial<Record<Daemon, number>> = {};
  for (const [d, pid] of Object.entries(pids)) {
    const s = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    const kib = Number(/^VmRSS:\s+(\d+) kB/m.exec(s)?.[1] ?? Number.NaN);
    if (Number.isFinite(kib)) out[d as Daemon] = kib;
  }
  return out;
}

async function stopDaemons(pids: Partial<Record<Daemon, number>>, say: Say): Promise<void> {
  // sshd first (no new sessions), libvirtd before virtlogd (it holds virtlogd's socket).
  for (const d of ['sshd', 'libvirtd', 'virtlogd'] as const) {
    const pid = pids[d];
    if (await stillOurs(d, pid)) await stopPid(pid as number, `site-b ${d}`, say);
  }
}

async function ensurePool(name: string, path: string): Promise<void> {
  if ((await virsh(['pool-info', name], true)).exitCode !== 0)
    await virsh(['pool-define-as', name, 'dir', '--target', path]);
  if (!(await virsh(['pool-info', name])).stdout.includes('running')) await virsh(['pool-start', name]);
  await virsh(['pool-autostart', name]);
  await virsh(['pool-refresh', name]);
}

/** Site B's libvirt objects, named as on site A so one lab config section serves both. */
async function ensureLibvirtObjects(basePath: string): Promise<void> {
  const d = libvirtLabDefaults;
  // Warm path: one ssh round trip (virsh runs ;-separated commands) instead of one per object.
  const probe = await virsh(
    [
      [
        `pool-info ${d.pool}`,
        `pool-info ${d.imagePool}`,
        `vol-info ${d.image} --pool ${d.imagePool}`,
        `net-info ${d.network}`,
        `net-info ${d.network2}`,
      ].join('; '),
    ],
    true,
  );
  const out = probe.stdout;
  if (probe.exitCode === 0 && out.match(/State:\s+running/g)?.length === 2 && out.match(/Active:\s+yes/g)?.length === 2)
    return;
  await ensurePool(d.pool, paths.pool);
  await ensurePool(d.imagePool, paths.images);
  if ((await virsh(['vol-info', d.image, '--pool', d.imagePool], true)).exitCode !== 0) {
    const size = (await stat(basePath)).size;
    await virsh(['vol-create-as', d.imagePool, d.image, `${size}B`, '--format', 'raw']);
    await virsh(['vol-upload', d.image, basePath, '--pool', d.imagePool]);
  }
  // Isolated networks inside the namespace: their bridges exist only there, so names match site A's.
  for (const [name, bridge] of [
    [d.network, bridges[0]],
    [d.network2, bridges[1]],
  ] as const) {
    if ((await virsh(['net-info', name], true)).exitCode !== 0) {
      const f = join(root, `${name}.xml`);
      await writeFile(f, `<network><name>${name}</name><bridge name='${bridge}' stp='off'/></network>\n`);
      await virsh(['net-define', f]);
    }
    if (!/Active:\s+yes/.test((await virsh(['net-info', name])).stdout)) await virsh(['net-start', name]);
  }
}

async function waitForSite(): Promise<void> {
  // The first connection probes QEMU's capabilities (~8-40 s here, slower when the machine is loaded).
  await waitFor(
    'site-b libvirtd to answer over ssh',
    { ...defaultWaitPolicies.daemon, deadlineMs: 120_000 },
    async () => ((await virsh(['version'], true)).exitCode === 0 ? true : undefined),
  );
}

/**
 * Daemons that died without `lab down` leave their networks' bridges in our namespace; the fresh
 * libvirtd's net-start would then fail with "File exists" and every site-B VM with "network is
 * not active". The namespace is the lab's own, so its bridges are too.
 */
async function removeStaleBridges(say: Say): Promise<void> {
  for (const bridge of bridges) {
    const gone = await sh('ip', ['-n', siteB.netns, 'link', 'del', bridge], { allowFail: true });
    if (gone.exitCode === 0) say(`removed stale bridge ${bridge} left in ${siteB.netns} by daemons that died`);
  }
}

async function allRunning(pids: Partial<Record<Daemon, number>>): Promise<boolean> {
  for (const d of daemons) if (!(await stillOurs(d, pids[d]))) return false;
  return true;
}

/** Site B's state when its daemons are running now, else why not (for a prereq-missing reason). */
export async function siteBRunning(): Promise<SiteBLabState | string> {
  const state = await readSiteBState();
  if (!state) return 'site-b was never brought up here: run `vmconform lab up site-b`';
  if (!(await allRunning(state.startedPids)))
    return 'site-b is not running (its daemons are gone): run `vmconform lab up site-b`';
  if (state.ready === false)
    return 'site-b did not finish its last bring-up (its networks or pool may be inactive): run `vmconform lab up site-b`';
  return state;
}

export async function siteBUp(say: Say): Promise<SiteBLabState> {
  const t0 = performance.now();
  const previous = await readSiteBState();
  const libvirtLab = await readLibvirtLabState();
  if (!libvirtLab)
    throw new PrereqMissing('site B boots the guest the libvirt lab builds: run `vmconform lab up libvirt` first');
  await ensurePackages(siteBPackages, say);
  const hostUuid = previous?.hostUuid ?? randomUUID();
  await ensureFiles(hostUuid);
  const createdNetns = (await ensureLink()) || (previous?.createdNetns ?? false);
  const facts = (startedPids: SiteBLabState['startedPids']) => ({
    uri: siteBUri,
    address: siteB.siteAddr,
    consoleDir: paths.console,
    hostUuid,
    startedPids,
    createdNetns,
  });
  let pids = previous?.startedPids ?? {};
  let daemonsReadyMs: number | undefined;
  if (!(await allRunning(pids))) {
    // A partial set (one daemon died) is restarted whole: they share one mount namespace.
    await stopDaemons(pids, say);
    for (const d of daemons) await rm(join(paths.pids, `${d}.pid`), { force: true });
    await removeStaleBridges(say);
    const inside = fileURLToPath(new URL('./inside.sh', import.meta.url));
    const t1 = performance.now();
    await sh('ip', ['netns', 'exec', siteB.netns, 'unshare', '-m', '--propagation', 'private', 'sh', inside, root]);
    const { value } = await waitFor('site-b daemons to write their PID files', defaultWaitPolicies.daemon, async () => {
      const p = await readPids();
      return daemons.every((d) => p[d]) ? p : undefined;
    });
    pids = value;
    say(`started site-b virtlogd (pid ${pids.virtlogd}), libvirtd (pid ${pids.libvirtd}), sshd (pid ${pids.sshd})`);
    // Recorded before anything else can fail, so `down` always knows what to stop.
    await writeJson(paths.state, { ...(previous ?? {}), ...facts(pids), ready: false });
    await waitForSite();
    daemonsReadyMs = Math.round(performance.now() - t1);
  }
  await waitForSite();
  await ensureLibvirtObjects((await guestArtefacts()).base);
  const ms = Math.round(performance.now() - t0);
  const state: SiteBLabState = {
    ...facts(pids),
    bringUp: { ms, at: new Date().toISOString(), cold: !previous, ...(daemonsReadyMs ? { daemonsReadyMs } : {}) },
    rssKiB: await rss(pids),
    ready: true,
  };
  await writeJson(paths.state, state);
  say(`site-b up in ${(ms / 1000).toFixed(1)} s (${siteBUri.split('?')[0]})`);
  return state;
}

/**
 * Site loss as MDC-03 sees it: site B's end of the link goes down, so packets to it are dropped on
 * the veth (a silent loss, like a cut WAN link, not a refusal); site B and its VMs keep running.
 */
export async function cutSiteBLink(): Promise<void> {
  await sh('ip', ['-n', siteB.netns, 'link', 'set', siteB.nsIf, 'down']);
}

export async function restoreSiteBLink(): Promise<void> {
  await sh('ip', ['-n', siteB.netns, 'link', 'set', siteB.nsIf, 'up']);
  await waitForSite();
}

/**
 * Should the host end of the link ever go down, its connected route goes with it and traffic for
 * site B would follow the default route off this machine: this route makes it unreachable instead.
 */
const guardRoute = ['unreachable', `${siteB.siteAddr.replace(/\.\d+$/, '.0')}/${siteB.prefix}`, 'metric', '4242'];

/** `purge` also removes site B's directories (keys, pools, image): the next bring-up is cold. */
export async function siteBDown(say: Say, opts: { purge?: boolean } = {}): Promise<void> {
  const state = await readSiteBState();
  // A run interrupted while site B was lost: give its link back so leftovers can be removed.
  if (state?.createdNetns) await sh('ip', ['-n', siteB.netns, 'link', 'set', siteB.nsIf, 'up'], { allowFail: true });
  // Owned leftovers first: their qemu would otherwise outlive libvirtd in the namespace.
  if ((await virsh(['version'], true)).exitCode === 0) await removeOwnedDomains(siteBUri, say);
  await stopDaemons(state?.startedPids ?? {}, say);
  if (state?.createdNetns) {
    // Deleting the namespace deletes the veth pair with it.
    await sh('ip', ['netns', 'del', siteB.netns], { allowFail: true });
    await sh('ip', ['link', 'del', siteB.hostIf], { allowFail: true });
    await sh('ip', ['route', 'del', ...guardRoute], { allowFail: true });
    say(`removed namespace ${siteB.netns} and link ${siteB.hostIf}`);
  }
  if (opts.purge) {
    await rm(root, { recursive: true, force: true });
    say(`purged ${root}`);
  } else if (state) await writeJson(paths.state, { ...state, startedPids: {}, createdNetns: false });
  say('site-b down');
}
