import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ensurePackages,
  pidAlive,
  portOpen,
  readJson,
  type Say,
  sh,
  spawnBackground,
  stopPid,
  writeJson,
} from '../host/host.js';
import { defaultWaitPolicies, waitFor } from '../host/wait.js';

export const natsLabDefaults = {
  root: '/var/lib/vmconform/nats',
  host: '127.0.0.1',
  port: 4222,
  /** Monitoring endpoint (varz/jsz), loopback only as well. */
  monitorPort: 8222,
};
const d = natsLabDefaults;
export const natsPackages = ['nats-server'];
const statePath = join(d.root, 'lab.json');

export interface NatsLabState {
  url: string;
  pid?: number;
  version: string;
  jetstream: boolean;
  storeDir: string;
  log: string;
  bringUp: { ms: number; at: string; cold: boolean };
}

export const readNatsLabState = () => readJson<NatsLabState>(statePath);

/** The pid is ours only while it is still a nats-server with our store dir (pids are reused). */
async function isOurs(pid: number | undefined): Promise<boolean> {
  if (!pid || !(await pidAlive(pid))) return false;
  const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmd.includes('nats-server') && cmd.includes(join(d.root, 'js'));
}

const version = async () => (await sh('nats-server', ['--version'])).stdout.trim();

export async function natsUp(say: Say): Promise<NatsLabState> {
  const t0 = performance.now();
  const previous = await readNatsLabState();
  await ensurePackages(natsPackages, say);
  const url = `nats://${d.host}:${d.port}`;
  const storeDir = join(d.root, 'js');
  const log = join(d.root, 'nats-server.log');
  let pid = previous?.pid;
  if (!(await isOurs(pid))) {
    if (await portOpen(d.port, d.host))
      throw new Error(
        `${d.host}:${d.port} is taken by a process the NATS lab did not start; stop it or point nats.url in the lab config at it with --no-lab`,
      );
    await mkdir(storeDir, { recursive: true });
    // -a binds loopback only; -js with a store under the lab root; -m for JetStream/varz checks.
    pid = spawnBackground(
      'nats-server',
      ['-a', d.host, '-p', String(d.port), '-m', String(d.monitorPort), '-js', '-sd', storeDir, '-n', 'vmconform-lab'],
      { log },
    );
    say(`started nats-server (pid ${pid}) on ${url} with JetStream`);
  }
  await waitFor(`nats-server to listen on ${url}`, defaultWaitPolicies.daemon, async () =>
    (await portOpen(d.port, d.host)) ? true : undefined,
  );
  // JetStream enabled is part of the lab's promise: check the server's own report, not the flag we passed.
  const jsz = await fetch(`http://${d.host}:${d.monitorPort}/jsz`).then(
    (r) => r.json() as Promise<{ config?: object }>,
  );
  const ms = Math.round(performance.now() - t0);
  const state: NatsLabState = {
    url,
    ...(pid ? { pid } : {}),
    version: await version(),
    jetstream: !!jsz.config,
    storeDir,
    log,
    bringUp: { ms, at: new Date().toISOString(), cold: !previous },
  };
  if (!state.jetstream) throw new Error(`nats-server at ${url} reports JetStream disabled (see ${log})`);
  await writeJson(statePath, state);
  say(`nats lab up in ${(ms / 1000).toFixed(1)} s: ${state.version}, JetStream on, ${url}`);
  return state;
}

export async function natsDown(say: Say, opts: { purge?: boolean } = {}): Promise<void> {
  const state = await readNatsLabState();
  if (state?.pid && (await isOurs(state.pid))) await stopPid(state.pid, 'nats-server', say);
  else if (state?.pid) say(`nats-server pid ${state.pid} is not running (or is no longer ours): nothing to stop`);
  if (opts.purge) {
    await rm(d.root, { recursive: true, force: true });
    say(`purged ${d.root}`);
  } else if (state) {
    const { pid: _pid, ...rest } = state;
    await writeJson(statePath, rest);
  }
  say('nats lab down');
}
