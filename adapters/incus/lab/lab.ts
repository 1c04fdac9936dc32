/**
 * The embedded local Incus lab: packages from bookworm-backports, incusd started by hand (no systemd),
 * a preseed with its own bridges and a dir pool, images built offline and imported through the API,
 * an external bridge Incus did not create (NIC-05), and a measured answer to "can VMs start here?".
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensurePackages, pidAlive, type Say, sh, stopPid } from '../../../host/host.js';
import { defaultWaitPolicies, waitFor } from '../../../host/wait.js';
import { ensureGuest, ensureImages } from './images.js';
import { probeQuota, probeVlan, probeVm } from './probes.js';
import { incusLabDefaults as d, type IncusLabState, incus, readIncusLabState, writeIncusLabState } from './state.js';

const backports = '/etc/apt/sources.list.d/vmconform-bookworm-backports.sources';

export const incusPackages = ['incus-base', 'incus-client', 'incus-agent'];
const helperPackages = ['busybox-static', 'qemu-utils', 'iproute2', 'procps', 'openssl'];

async function ensureBackports(say: Say): Promise<void> {
  const have = await sh('sh', ['-c', 'grep -rls "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/'], {
    allowFail: true,
  });
  if (have.stdout.trim()) return;
  await writeFile(
    backports,
    'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n',
  );
  say(`added bookworm-backports to apt sources (${backports})`);
}

async function installIncus(say: Say): Promise<void> {
  await ensurePackages(helperPackages, say);
  const missing: string[] = [];
  for (const p of incusPackages) {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
    const r = await sh('dpkg-query', ['-W', '-f=${Status}', p], { allowFail: true });
    if (!r.stdout.includes('install ok installed')) missing.push(p);
  }
  if (missing.length === 0) return;
  await ensureBackports(say);
  say(`installing from bookworm-backports: ${missing.join(' ')} (not the incus metapackage: it wants a newer qemu)`);
  const lock = ['-o', 'DPkg::Lock::Timeout=600'];
  await sh('apt-get', [...lock, 'update']);
  await sh('apt-get', [...lock, 'install', '-y', '--no-install-recommends', '-t', 'bookworm-backports', ...missing], {
    env: { DEBIAN_FRONTEND: 'noninteractive' },
  });
}

/**
 * The incusd daemon's PID. `pgrep -x incusd` also matches its helpers (incusd forkstart, forkfile,
 * forkproxy ...) and instance monitors, so those are told apart by their arguments.
 */
export async function findIncusd(): Promise<number | undefined> {
  const r = await sh('pgrep', ['-x', 'incusd'], { allowFail: true });
  for (const pid of r.stdout
    .split('\n')
    .map(Number)
    .filter((n) => n > 0)) {
    const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    // Instance monitors rename themselves ("[lxc monitor] ..."): only the real binary path counts.
    if (/(^|\/)incusd$/.test(args[0] ?? '') && !args[1]?.startsWith('fork') && args[1] !== 'callhook') return pid;
  }
  return undefined;
}

/** The PID of the incusd this lab started, written as soon as it starts so a failed bring-up still owns it. */
const pidFile = join(d.root, 'incusd.pid');

async function ownIncusd(): Promise<number | undefined> {
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  return pid > 0 && pid === (await findIncusd()) ? pid : undefined;
}

async function answers(): Promise<boolean> {
  return (await incus(['admin', 'waitready', '--timeout=1'], true)).exitCode === 0;
}

/** incusd does not daemonise itself: setsid detaches it from our process group so it outlives the CLI. */
async function startIncusd(say: Say): Promise<number | undefined> {
  if (await findIncusd()) return undefined;
  await sh('mkdir', ['-p', '/var/log/incus']);
  const p = execa(
    'setsid',
    ['/usr/libexec/incus/incusd', '--group', 'root', '--logfile', '/var/log/incus/incusd.log'],
    {
      detached: true,
      stdio: 'ignore',
      env: { PATH: `/usr/libexec/incus:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` },
      reject: false,
    },
  );
  p.unref();
  const { value } = await waitFor('incusd to start', defaultWaitPolicies.daemon, () => findIncusd());
  await waitFor('incusd to answer', defaultWaitPolicies.daemon, async () => ((await answers()) ? true : undefined));
  await mkdir(d.root, { recursive: true });
  await writeFile(pidFile, `${value}\n`);
  say(`started incusd (pid ${value})`);
  return value;
}

function preseed(): string {
  const net = (name: string, address: string) =>
    `- name: ${name}\n  type: bridge\n  config:\n    ipv4.address: ${address}\n    ipv4.nat: "false"\n    ipv6.address: none\n    dns.mode: none\n`;
  return [
    'networks:',
    net(d.network, d.address).trimEnd(),
    net(d.network2, d.address2).trimEnd(),
    'storage_pools:',
    `- name: ${d.pool}`,
    '  driver: dir',
    'profiles:',
    '- name: default',
    '  devices:',
    '    root:',
    '      path: /',
    `      pool: ${d.pool}`,
    '      type: disk',
    '',
  ].join('\n');
}

async function ensureInit(say: Say): Promise<void> {
  const nets = await incus(['network', 'list', '--format', 'csv', '-c', 'n'], true);
  const pools = await incus(['storage', 'list', '--format', 'csv', '-c', 'n'], true);
  const haveNets = nets.stdout.includes(d.network) && nets.stdout.includes(d.network2);
  if (haveNets && pools.stdout.split('\n').includes(d.pool)) {
    // Isolated lab networks without DNS, like the libvirt lab's: with DNS on, Incus refuses a second
    // NIC of one instance on the same network (instance DNS name conflict).
    for (const n of [d.network, d.network2]) await incus(['network', 'set', n, 'dns.mode=none']);
    return;
  }
  // `incus admin init --minimal` fails here (it picks a bridge address it cannot use): explicit preseed.
  const r = await execa('incus', ['admin', 'init', '--preseed'], { input: preseed(), reject: false });
  if (r.exitCode !== 0) throw new Error(`incus admin init --preseed failed: ${r.stderr.trim()}`);
  say(`initialised incus: bridges ${d.network} (${d.address}), ${d.network2} (${d.address2}), dir pool ${d.pool}`);
}

/** A project for tenancy: instances, volumes and images of the harness live apart from anything else. */
async function ensureProject(): Promise<void> {
  if ((await incus(['project', 'show', d.project], true)).exitCode === 0) return;
  await incus([
    'project',
    'create',
    d.project,
    '-c',
    'features.images=true',
    '-c',
    'features.profiles=true',
    '-c',
    'features.storage.volumes=true',
  ]);
  const profile = `devices:\n  root:\n    path: /\n    pool: ${d.pool}\n    type: disk\n`;
  await execa('incus', ['profile', 'edit', 'default', '--project', d.project], { input: profile });
}

async function ensureExternalBridge(previous: IncusLabState | undefined): Promise<boolean> {
  let created = previous?.createdBridge ?? false;
  if ((await sh('ip', ['link', 'show', d.externalBridge], { allowFail: true })).exitCode !== 0) {
    await sh('ip', ['link', 'add', d.externalBridge, 'type', 'bridge']);
    created = true;
  }
  // Same shape as the libvirt lab's vmc-ext0: fixed MAC, no link-local address, L2 only.
  if (created) await sh('ip', ['link', 'set', d.externalBridge, 'address', '02:76:6d:63:01:01']);
  await sh('ip', ['link', 'set', d.externalBridge, 'addrgenmode', 'none']);
  await sh('sysctl', ['-q', '-w', `net.ipv6.conf.${d.externalBridge}.disable_ipv6=1`]);
  await sh('ip', ['link', 'set', d.externalBridge, 'up']);
  return created;
}

/** HTTPS on loopback only, plus a client certificate Incus has never trusted (wrong credentials for AUT-01). */
async function ensureHttps(): Promise<void> {
  const cur = (await incus(['config', 'get', 'core.https_address'])).stdout.trim();
  if (cur !== d.httpsAddress) await incus(['config', 'set', 'core.https_address', d.httpsAddress]);
  if ((await sh('test', ['-s', d.untrustedKey], { allowFail: true })).exitCode === 0) return;
  await mkdir(d.root, { recursive: true });
  const req =
    'req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 -subj /CN=vmconform-untrusted';
  await sh('openssl', [...req.split(' '), '-keyout', d.untrustedKey, '-out', d.untrustedCert]);
  await sh('chmod', ['600', d.untrustedKey]);
}

export async function incusUp(say: Say): Promise<IncusLabState> {
  const t0 = performance.now();
  const previous = await readIncusLabState();
  await installIncus(say);
  const guest = await ensureGuest(say);
  const started = await startIncusd(say);
  await ensureInit(say);
  await ensureProject();
  await ensureHttps();
  const images = await ensureImages(say, guest);
  // A failed probe is cheap (Incus refuses at create), so it is repeated: the host may have gained KVM or vhost_vsock.
  const vm = previous?.vm.canStart
    ? previous.vm
    : images.vm
      ? await probeVm()
      : { canStart: false, error: 'the VM image did not import' };
  say(vm.canStart ? 'Incus VMs start here' : `Incus VMs cannot start here: ${vm.error}`);
  const createdBridge = await ensureExternalBridge(previous);
  const vlan = await probeVlan();
  const sizesNotEnforced = await probeQuota();
  const version = (await incus(['version'])).stdout.match(/Server version:\s*(\S+)/)?.[1] ?? 'unknown';
  const ms = Math.round(performance.now() - t0);
  const incusdPid = started ?? (await ownIncusd());
  const state: IncusLabState = {
    version,
    vm,
    prereqMissing: {
      ...(vlan ? { vlan } : {}),
      ...(vm.canStart ? {} : { 'vm-instances': `Incus could not start a virtual machine here: ${vm.error}` }),
      'second-site': 'the local Incus lab is a single server, not a cluster across sites',
    },
    startedPids: incusdPid ? { incusd: incusdPid } : {},
    createdBridge,
    images,
    ...(sizesNotEnforced ? { sizesNotEnforced } : {}),
    guest,
    bringUp: { ms, at: new Date().toISOString(), cold: !previous },
  };
  await writeIncusLabState(state);
  say(`incus lab up in ${(ms / 1000).toFixed(1)} s (${previous ? 'warm' : 'cold'})`);
  return state;
}

/** Stops the incusd this lab started; instances keep running: the platform's API is down (OPS-01). */
export async function stopIncusd(say: Say): Promise<void> {
  const pid = (await readIncusLabState()) ? await ownIncusd() : undefined;
  if (!pid) throw new Error('incusd was not started by the lab; refusing to stop a daemon someone else runs');
  await stopPid(pid, 'incusd', say);
}

/** Starts incusd again after stopIncusd, records its PID, and returns once it answers. */
export async function startIncusdAgain(say: Say): Promise<void> {
  const state = await readIncusLabState();
  const started = await startIncusd(say);
  if (state) await writeIncusLabState({ ...state, startedPids: started ? { incusd: started } : {} });
}

/** Restarts incusd (only one the lab started); instances keep running across it (OPS-04, ID-01). */
export async function restartIncusd(say: Say): Promise<void> {
  await stopIncusd(say);
  await startIncusdAgain(say);
}

/** Instances the harness owns (user.vmconform.marker) are removed first: stopping incusd leaves them running. */
export async function incusDown(say: Say, opts: { purge?: boolean } = {}): Promise<void> {
  const state = await readIncusLabState();
  if (await answers()) {
    const list = await incus(['list', '--all-projects', '--format', 'json'], true);
    const all = JSON.parse(list.stdout || '[]') as { name: string; project: string; config: Record<string, string> }[];
    for (const i of all) {
      const owned = i.config['user.vmconform.marker'] === 'vmconform' || i.config['user.vmconform.lab'] === 'probe';
      if (!owned) continue;
      await incus(['delete', '--force', i.name, '--project', i.project], true);
      say(`removed leftover instance ${i.project}/${i.name}`);
    }
    if (opts.purge) {
      for (const img of [d.containerImage, d.vmImage])
        await incus(['image', 'delete', img, '--project', d.project], true);
      const vols = await incus(['storage', 'volume', 'list', d.pool, '--project', d.project, '--format', 'csv'], true);
      for (const line of vols.stdout.split('\n')) {
        const [type, name] = line.split(',');
        if (type === 'custom' && name)
          await incus(['storage', 'volume', 'delete', d.pool, name, '--project', d.project], true);
      }
      await incus(['profile', 'device', 'remove', 'default', 'root', '--project', d.project], true);
      await incus(['project', 'delete', d.project], true);
      await incus(['profile', 'device', 'remove', 'default', 'root'], true);
      for (const n of [d.network, d.network2]) await incus(['network', 'delete', n], true);
      await incus(['storage', 'delete', d.pool], true);
    }
  }
  const pid = await ownIncusd();
  if (pid) {
    // incusd leaves each managed bridge's dnsmasq running: stop exactly those (found by their interface).
    const dns = await sh('pgrep', ['-f', `dnsmasq .*--interface=(${d.network}|${d.network2}) `], { allowFail: true });
    await stopPid(pid, 'incusd', say);
    for (const p of dns.stdout
      .split('\n')
      .map(Number)
      .filter((n) => n > 0))
      if (await pidAlive(p)) await stopPid(p, 'dnsmasq', say);
    await rm(pidFile, { force: true });
    // A stopped incusd leaves its managed bridges on the host (down, empty); the lab's next incusd makes
    // them again at its start, so they are removed with it.
    for (const n of [d.network, d.network2]) {
      const gone = await sh('ip', ['link', 'del', n], { allowFail: true });
      if (gone.exitCode === 0) say(`removed bridge ${n}`);
    }
  }
  if (state?.createdBridge) await sh('ip', ['link', 'del', d.externalBridge], { allowFail: true });
  if (opts.purge) {
    // The next bring-up is cold: images rebuilt and re-imported, the VM start probed again.
    await rm(d.root, { recursive: true, force: true });
    say(`purged ${d.root} and the lab's project, images, volumes, networks and pool`);
  } else if (state) await writeIncusLabState({ ...state, startedPids: {}, createdBridge: false });
  say('incus lab down');
}
