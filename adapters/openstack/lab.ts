/**
 * The OpenStack lab: a real all-in-one Zed cloud from Debian 12's own packages, every daemon started by
 * hand by the scripts in real-lab/ (no systemd), Cinder on a one-OSD Ceph, Nova's libvirt driver booting
 * the lab's guest on its own libvirtd. This module installs, runs the scripts, provisions what the
 * suites need and records what it measured in lab.json; `down` stops exactly what the scripts started.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildGuest, guestDir } from '../../host/guest/artefacts.js';
import { readJson, type Say, writeJson } from '../../host/host.js';
import type { Capabilities } from '../contract/index.js';
import { installLabPackages, provision, runScript, scriptsDigest, vlanMissing } from './lab-host.js';
import { removeOwnedLeftovers } from './lab-leftovers.js';
import { type LabService, labLeftovers, labServices } from './lab-processes.js';

/** The scripts' folder ($D in real-lab/common.sh) and the ports it gives the services (loopback). */
const root = '/var/lib/vmconform/openstack-real';
const ports = { db: 13306, amqp: 25682, keystone: 25000, glance: 29292, placement: 28778, nova: 28774 };

export const openstackLabDefaults = {
  root,
  authUrl: `http://127.0.0.1:${ports.keystone}/v3`,
  passwordFile: join(root, 'secret'),
  image: 'vmc-base-v1',
  network: 'vmc-net1',
  network2: 'vmc-net2',
  externalNetwork: 'vmc-ext',
  /** A bridge the lab makes and Neutron's linuxbridge agent only adds ports to (bridge_mappings). */
  externalBridge: 'osr-ext0',
} as const;
const d = openstackLabDefaults;
const statePath = join(root, 'lab.json');
export const realLabDir = join(dirname(fileURLToPath(import.meta.url)), 'real-lab');

/** Debian 12 packages (Zed) the lab runs; Ceph for Cinder volumes (no LVM, iSCSI or NFS in this kernel). */
export const packages = [
  'keystone',
  'glance',
  'placement-api',
  'nova-api',
  'nova-conductor',
  'nova-scheduler',
  'nova-compute',
  'nova-compute-qemu',
  'neutron-server',
  'neutron-linuxbridge-agent',
  'neutron-dhcp-agent',
  'neutron-metadata-agent',
  'cinder-api',
  'cinder-scheduler',
  'cinder-volume',
  'cinder-backup',
  'mariadb-server',
  'rabbitmq-server',
  'memcached',
  'python3-pymysql',
  'ceph-mon',
  'ceph-osd',
  // Answers `ceph df`: Cinder's RBD driver reports the pool's capacity through it.
  'ceph-mgr',
  // The scripts time their steps with bc.
  'bc',
];

/** Measured facts about the lab (real-lab/README.md has the detail). */
export const realLab = {
  scripts: 'adapters/openstack/real-lab: up.sh, down.sh [--purge], status.sh, provision.py, smoke.sh',
  install: '400 packages without recommends: 549 s, 1181 MB (+ ceph-mon, ceph-osd: 27 s, 160 MB)',
  bringUp:
    'cold 364 s under load (138-178 s on a quiet machine), warm 10-14 s; all services 4.1-4.7 GiB RSS; Cinder on a one-OSD Ceph (no LVM, iSCSI or NFS here)',
  guest: 'TCG: create to ACTIVE 17-40 s, to the guest READY 25-57 s; RBD attach seen in the guest 19-24 s',
  notYet: 'a second compute host (second availability zone)',
};

export interface OpenStackLabState {
  authUrl: string;
  passwordFile: string;
  /** real: Nova's libvirt driver runs the guests and Cinder stores volumes in Ceph; simulated: Cinder's fake driver. */
  evidence: 'real' | 'simulated';
  evidenceReason: string;
  accel: 'kvm' | 'tcg';
  accelReason: string;
  volumeBackend: 'rbd' | 'fake';
  services: LabService[];
  totalRssKiB: number;
  provisioned: Record<string, string | boolean>;
  prereqMissing: Capabilities['prereqMissing'];
  bringUp: { ms: number; at: string; cold: boolean; ran: 'scripts' | 'already running' };
  coldBringUp?: { ms: number; at: string };
  /** Digest of the scripts (and virt type) the running services were configured by: a change cycles them. */
  scripts: string;
  realLab: typeof realLab;
}

/** Every daemon the scripts start; the lab is warm when each of them runs. */
const daemons = [
  'mariadb',
  'rabbitmq',
  'memcached',
  'libvirtd',
  'virtlogd',
  'keystone',
  'glance-api',
  'placement',
  'nova-api',
  'nova-conductor',
  'nova-scheduler',
  'nova-compute',
  'neutron-server',
  'neutron-linuxbridge-agent',
  'neutron-dhcp-agent',
  'neutron-metadata-agent',
  'cinder-api',
  'cinder-scheduler',
  'cinder-volume',
  'cinder-backup',
];

const pidsDir = join(root, 'pids');
const live = () => labServices(pidsDir, root);

/** What `up` recorded, with each service's state read now. */
export async function readOpenStackLabState(): Promise<OpenStackLabState | undefined> {
  const s = await readJson<OpenStackLabState>(statePath);
  return s ? { ...s, ...(await live()) } : undefined;
}

/** KVM only where the libvirt lab booted a guest under it; TCG otherwise (its reason recorded). */
async function accelerator(): Promise<{ accel: 'kvm' | 'tcg'; reason: string }> {
  const libvirt = await readJson<{ accel?: string; accelReason?: string }>('/var/lib/vmconform/libvirt/lab.json');
  const kvm = await stat('/dev/kvm').then(
    () => true,
    () => false,
  );
  if (kvm && libvirt?.accel === 'kvm') return { accel: 'kvm', reason: 'the libvirt lab booted its guest under KVM' };
  return {
    accel: 'tcg',
    reason: kvm
      ? `virt_type = qemu: the libvirt lab's probe found no working KVM (${libvirt?.accelReason ?? 'not probed'})`
      : 'virt_type = qemu: /dev/kvm does not exist',
  };
}

export async function openstackUp(say: Say): Promise<OpenStackLabState> {
  const t0 = performance.now();
  const previous = await readJson<OpenStackLabState>(statePath);
  await installLabPackages(packages, say);
  await mkdir(root, { recursive: true, mode: 0o755 });
  // The lab's one secret (admin, service users, database, AMQP): a file only root reads, never printed.
  if (!(await readFile(d.passwordFile, 'utf8').catch(() => '')))
    await writeFile(d.passwordFile, `${randomBytes(18).toString('hex')}\n`, { mode: 0o600 });
  say(await buildGuest());
  const accel = await accelerator();
  say(`accelerator: ${accel.accel} (${accel.reason})`);
  const env = { OSREAL_VIRT_TYPE: accel.accel === 'kvm' ? 'kvm' : 'qemu' };
  const digest = await scriptsDigest(realLabDir, env.OSREAL_VIRT_TYPE);
  // Cold: no databases yet (a first bring-up, or after `down --purge`).
  const fresh = !(await stat(join(root, 'mysql', 'mysql')).catch(() => undefined));
  const before = await live();
  const running = new Set(before.services.filter((s) => s.running).map((s) => s.name));
  const warm = daemons.every((n) => running.has(n));
  let ran: OpenStackLabState['bringUp']['ran'] = 'already running';
  if (warm && previous?.scripts !== digest) {
    say('the running cloud was configured by other scripts (or virt type): cycling it (data kept)');
    await runScript(realLabDir, 'down.sh', [], env, say);
  }
  if (!warm || previous?.scripts !== digest) {
    ran = 'scripts';
    await runScript(realLabDir, 'up.sh', [], env, say);
  } else say('every OpenStack service is already running');
  const provisioned = await provision(realLabDir, d, await guestDir(), say);
  // Services that were down may have stopped without `lab down` (a killed machine or CI job): what runs
  // left then would take quota and names from the next run, so it goes now, as `lab down` removes it.
  if (!warm)
    await removeOwnedLeftovers(d, say).catch((e: unknown) =>
      say(`could not list the owned leftovers: ${e instanceof Error ? e.message : String(e)}`),
    );
  const volumeBackend = /^enabled_backends = rbd$/m.test(
    await readFile(join(root, 'etc', 'cinder', 'cinder.conf'), 'utf8').catch(() => ''),
  )
    ? 'rbd'
    : 'fake';
  const vlan = await vlanMissing();
  const now = await live();
  const ms = Math.round(performance.now() - t0);
  const at = new Date().toISOString();
  const cold = ran === 'scripts' && fresh;
  const state: OpenStackLabState = {
    authUrl: d.authUrl,
    passwordFile: d.passwordFile,
    evidence: volumeBackend === 'rbd' ? 'real' : 'simulated',
    evidenceReason:
      volumeBackend === 'rbd'
        ? `real Keystone, Nova (libvirt driver, ${accel.accel}), Neutron, Glance, Placement, Cinder (RBD on a one-OSD Ceph)`
        : 'Cinder runs its fake driver (Ceph not installed): volumes exist only in its database, so runs are simulated',
    accel: accel.accel,
    accelReason: accel.reason,
    volumeBackend,
    ...now,
    provisioned,
    prereqMissing: {
      ...(vlan ? { vlan } : {}),
      ...(accel.accel === 'kvm' ? {} : { kvm: accel.reason }),
      'second-site':
        'the lab is one all-in-one host: one compute node in one availability zone (nova); a second zone needs a second compute host',
    },
    bringUp: { ms, at, cold, ran },
    ...(cold ? { coldBringUp: { ms, at } } : previous?.coldBringUp ? { coldBringUp: previous.coldBringUp } : {}),
    scripts: digest,
    realLab,
  };
  await writeJson(statePath, state);
  const running2 = now.services.filter((s) => s.running).length;
  say(
    `OpenStack lab up in ${(ms / 1000).toFixed(1)} s (${ran}); ${running2}/${now.services.length} services, ${(now.totalRssKiB / 1024 ** 2).toFixed(1)} GiB RSS; evidence: ${state.evidence}`,
  );
  return state;
}

/** Restarts Nova's daemons (api, conductor, scheduler, compute); guests keep running under the lab's libvirtd. */
/** Stops Nova's daemons by PID: the compute API is down, guests keep running under the lab's libvirtd. */
export async function stopOpenStackControlPlane(say: Say): Promise<void> {
  const { stopPid } = await import('../../host/host.js');
  for (const s of (await live()).services)
    if (s.running && /^nova-(api|conductor|scheduler|compute)$/.test(s.name)) await stopPid(s.pid, s.name, say);
}

/** Starts Nova's daemons again and returns once the compute API answers. */
export async function startOpenStackControlPlane(say: Say): Promise<void> {
  const accel = await accelerator();
  await runScript(
    realLabDir,
    'services.sh',
    ['novad'],
    { OSREAL_VIRT_TYPE: accel.accel === 'kvm' ? 'kvm' : 'qemu' },
    say,
  );
  const state = await readJson<OpenStackLabState>(statePath);
  if (state) await writeJson(statePath, { ...state, ...(await live()) });
}

export async function restartOpenStackControlPlane(say: Say): Promise<void> {
  await stopOpenStackControlPlane(say);
  await startOpenStackControlPlane(say);
}

export async function openstackDown(say: Say, opts: { purge?: boolean } = {}): Promise<void> {
  const state = await readJson<OpenStackLabState>(statePath);
  const keystone = (await live()).services.find((s) => s.name === 'keystone')?.running;
  if (state && keystone && !opts.purge)
    await removeOwnedLeftovers(d, say).catch((e: unknown) =>
      say(`could not list the owned leftovers: ${e instanceof Error ? e.message : String(e)}`),
    );
  await runScript(realLabDir, 'down.sh', opts.purge ? ['--purge'] : [], {}, say);
  const left = await labLeftovers(root, /^(osr-|brq)/, Object.values(ports));
  if (left.length) throw new Error(`lab down left: ${left.join('; ')}`);
  if (!opts.purge && state) await writeJson(statePath, { ...state, ...(await live()) });
  say(`OpenStack lab down${opts.purge ? `; purged ${root}` : ''} (no process, bridge, namespace or port left)`);
}
