/** Host-side helpers for lab scripts: commands, daemons started by hand (no systemd), lab state files. */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { execa } from 'execa';
import { defaultWaitPolicies, waitFor } from './wait.js';

export type Say = (msg: string) => void;

export async function sh(
  cmd: string,
  args: string[],
  opts: { allowFail?: boolean; env?: Record<string, string> } = {},
) {
  const res = await execa(cmd, args, { reject: false, stdin: 'ignore', env: { LC_ALL: 'C', ...opts.env } });
  if (res.exitCode !== 0 && !opts.allowFail) {
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${res.exitCode}): ${(res.stderr || res.stdout).trim()}`);
  }
  return res;
}

export async function have(cmd: string): Promise<boolean> {
  return (await sh('sh', ['-c', `command -v ${cmd}`], { allowFail: true })).exitCode === 0;
}

/** Installs Debian packages that are missing (root, apt). Prints what it installs. */
export async function ensurePackages(pkgs: string[], say: Say): Promise<void> {
  const missing: string[] = [];
  for (const p of pkgs) {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax, not a JS template
    const r = await sh('dpkg-query', ['-W', '-f=${Status}', p], { allowFail: true });
    if (!r.stdout.includes('install ok installed')) missing.push(p);
  }
  if (missing.length === 0) return;
  say(`installing Debian packages: ${missing.join(' ')}`);
  // Another installer (a parallel lab, unattended apt) may hold the lock: wait for it rather than fail.
  const lock = ['-o', 'DPkg::Lock::Timeout=600'];
  await sh('apt-get', [...lock, 'update']);
  await sh('apt-get', [...lock, 'install', '-y', '--no-install-recommends', ...missing], {
    env: { DEBIAN_FRONTEND: 'noninteractive' },
  });
}

export async function pidAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The named daemon of this host: same network namespace as us, so a lab site's own daemons (site B) never match. */
export async function findPid(exe: string): Promise<number | undefined> {
  const r = await sh('pgrep', ['-x', '--ns', String(process.pid), '--nslist', 'net', exe], { allowFail: true });
  const pid = Number(r.stdout.trim().split('\n')[0]);
  return Number.isFinite(pid) && pid > 0 ? pid : undefined;
}

/** Starts a self-daemonising program unless it already runs; returns the PID only if we started it. */
export async function startDaemon(exe: string, args: string[], say: Say): Promise<number | undefined> {
  if (await findPid(exe)) return undefined;
  await sh(exe, args);
  const { value } = await waitFor(`${exe} to start`, defaultWaitPolicies.daemon, async () => findPid(exe));
  say(`started ${exe} (pid ${value})`);
  return value;
}

/** Stops exactly the PID given, waiting until it is gone. */
export async function stopPid(pid: number, name: string, say: Say): Promise<void> {
  if (!(await pidAlive(pid))) return;
  process.kill(pid, 'SIGTERM');
  await waitFor(`${name} (pid ${pid}) to exit`, defaultWaitPolicies.daemon, async () =>
    (await pidAlive(pid)) ? undefined : true,
  );
  say(`stopped ${name} (pid ${pid})`);
}

export async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export async function writeJson(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** True when something accepts TCP connections on host:port (a lab service is listening). */
export const portOpen = (port: number, host = '127.0.0.1') =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

/**
 * Starts a lab service in the background, detached from our process group so it outlives the CLI,
 * with its output appended to `log`; returns its PID. The caller waits until it answers.
 */
export function spawnBackground(exe: string, args: string[], opts: { log: string; cwd?: string }): number {
  const out = openSync(opts.log, 'a');
  try {
    const child = spawn(exe, args, { cwd: opts.cwd, detached: true, stdio: ['ignore', out, out] });
    child.unref();
    if (!child.pid) throw new Error(`${exe} did not start (no pid); see ${opts.log}`);
    return child.pid;
  } finally {
    closeSync(out);
  }
}
