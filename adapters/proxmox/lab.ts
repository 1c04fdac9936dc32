import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { certFingerprint, makeCert } from '../../host/certs.js';
import {
  ensurePackages,
  pidAlive,
  portOpen,
  readJson,
  type Say,
  spawnBackground,
  stopPid,
  writeJson,
} from '../../host/host.js';
import { sourceDigest } from '../../host/source-digest.js';
import { defaultWaitPolicies, waitFor } from '../../host/wait.js';

export const proxmoxLabDefaults = {
  root: '/var/lib/vmconform/proxmox',
  port: 18006,
  node: 'pve1',
  tokenId: 'root@pam!vmconform',
  // The newest release mode by default; VMCONFORM_PVE_VERSION=8.4.1 runs the lab as 8.4 (see simulator/behaviours.ts).
  version: process.env.VMCONFORM_PVE_VERSION ?? '9.2.11',
};

const d = proxmoxLabDefaults;
const statePath = join(d.root, 'lab.json');
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface ProxmoxLabState {
  pid: number;
  port: number;
  version: string;
  fingerprint256: string;
  snippetsDir: string;
  bringUp: { ms: number; at: string };
  /** Digest of the simulator source it was started from: other code restarts it (host/source-digest). */
  code?: string;
}

export const readProxmoxLabState = () => readJson<ProxmoxLabState>(statePath);

/** Starts the simulator process in the background and waits for its port; returns its PID. */
async function startServer(version: string): Promise<number> {
  const log = join(d.root, 'simulator.log');
  const pid = spawnBackground(
    process.execPath,
    ['--import', 'tsx', join(repoRoot, 'adapters/proxmox/simulator/server.ts'), d.root, String(d.port), version],
    { cwd: repoRoot, log },
  );
  await waitFor(`proxmox simulator on 127.0.0.1:${d.port} (log ${log})`, defaultWaitPolicies.daemon, async () =>
    (await portOpen(d.port))
      ? true
      : (await pidAlive(pid))
        ? undefined
        : Promise.reject(new Error(`proxmox simulator exited; see ${log}`)),
  );
  return pid;
}

export async function proxmoxUp(say: Say): Promise<ProxmoxLabState> {
  const t0 = performance.now();
  const state = await readProxmoxLabState();
  const code = await sourceDigest(join(repoRoot, 'adapters/proxmox/simulator'));
  if (state && state.code !== code && (await isSimulator(state.pid))) {
    say(`the proxmox simulator (pid ${state.pid}) runs other code than this checkout's: restarting it`);
    await stopPid(state.pid, 'proxmox-simulator', say);
  }
  if (state && (await isSimulator(state.pid)) && (await portOpen(state.port))) {
    // A running lab is shared: it is kept in the release mode it was started in, and says so.
    const other =
      state.version !== d.version ? `; ${d.version} was asked for: \`vmconform lab down proxmox\` first to switch` : '';
    say(`proxmox simulator already running (pid ${state.pid}, PVE ${state.version}${other})`);
    return state;
  }
  await ensurePackages(['openssl'], say);
  await mkdir(join(d.root, 'snippets'), { recursive: true });
  // A fresh certificate and token each start: the config pins the fingerprint file and reads the token file.
  const { cert } = makeCert(d.root, 'pve1.vmconform.local');
  const fingerprint256 = certFingerprint(cert);
  await writeFile(join(d.root, 'cert.sha256'), `${fingerprint256}\n`);
  await writeFile(join(d.root, 'token-id'), `${d.tokenId}\n`);
  await writeFile(join(d.root, 'token-secret'), `${randomUUID()}\n`, { mode: 0o600 });
  // A fresh cluster each `lab up`; a restart (restartProxmoxSimulator) keeps it.
  await rm(join(d.root, 'cluster-state.json'), { force: true });
  const pid = await startServer(d.version);
  const next: ProxmoxLabState = {
    pid,
    port: d.port,
    version: d.version,
    fingerprint256,
    snippetsDir: join(d.root, 'snippets'),
    bringUp: { ms: Math.round(performance.now() - t0), at: new Date().toISOString() },
    code,
  };
  await writeJson(statePath, next);
  say(`started proxmox simulator (pid ${pid}, PVE ${d.version}) on https://127.0.0.1:${d.port}/api2/json`);
  return next;
}

async function isSimulator(pid: number): Promise<boolean> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.includes('adapters/proxmox/simulator/server.ts');
}

export async function proxmoxDown(say: Say, opts: { purge?: boolean } = {}): Promise<void> {
  const state = await readProxmoxLabState();
  // The simulator keeps its state in memory: stopping it removes every VM it held. Only the PID `up`
  // recorded is stopped, and only while it still runs the simulator (a PID can be reused).
  if (state?.pid && (await isSimulator(state.pid))) await stopPid(state.pid, 'proxmox simulator', say);
  if (opts.purge) await rm(d.root, { recursive: true, force: true });
  else if (state) await rm(statePath, { force: true });
}

/**
 * The local stand-in for restarting pvedaemon/pveproxy (ID-01, ID-02, OPS-04): the simulator saves
 * its cluster on SIGTERM after its running tasks end and loads it again, with the same certificate.
 */
export async function restartProxmoxSimulator(say: Say): Promise<void> {
  const state = await readProxmoxLabState();
  if (!state || !(await isSimulator(state.pid)))
    throw new Error('the proxmox simulator is not running: run `vmconform lab up proxmox`');
  await stopPid(state.pid, 'proxmox simulator', say);
  const pid = await startServer(state.version);
  await writeJson(statePath, { ...state, pid });
  say(`restarted proxmox simulator (pid ${pid})`);
}
