/**
 * The real OpenStack lab's processes as /proc shows them: each service from its PID file (the lab's
 * scripts write one per daemon they start), its RSS with its children, the helpers the agents
 * daemonised, and what is left after `lab down` (processes, bridges, namespaces, listening ports).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sh } from '../../host/host.js';

export interface LabService {
  name: string;
  pid: number;
  running: boolean;
  /** Resident memory of the process and its children, KiB. */
  rssKiB?: number;
}

interface Proc {
  pid: number;
  ppid: number;
  rssKiB: number;
  cmdline: string;
}

async function procs(): Promise<Proc[]> {
  const out: Proc[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const [status, cmdline] = await Promise.all([
      readFile(`/proc/${e}/status`, 'utf8').catch(() => ''),
      readFile(`/proc/${e}/cmdline`, 'utf8').catch(() => ''),
    ]);
    if (!status) continue;
    out.push({
      pid: Number(e),
      ppid: Number(/PPid:\s+(\d+)/.exec(status)?.[1] ?? 0),
      rssKiB: Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0),
      cmdline: cmdline.replace(/\0/g, ' ').trim(),
    });
  }
  return out;
}

function tree(all: Proc[], root: number): Proc[] {
  const out = all.filter((p) => p.pid === root);
  for (let i = 0; i < out.length; i++) out.push(...all.filter((p) => p.ppid === out[i]?.pid));
  return out;
}

/** Every service with a PID file under `pidsDir`, and the lab's total RSS (services and helpers). */
export async function labServices(
  pidsDir: string,
  labDir: string,
): Promise<{ services: LabService[]; totalRssKiB: number }> {
  const files = (await readdir(pidsDir).catch(() => [] as string[])).filter(
    // mariadb-launch is the shell that started mariadbd, not a service of its own.
    (f) => f.endsWith('.pid') && f !== 'mariadb-launch.pid',
  );
  const all = await procs();
  const counted = new Set<number>();
  const services: LabService[] = [];
  for (const f of files.sort()) {
    const pid = Number((await readFile(join(pidsDir, f), 'utf8').catch(() => '')).trim());
    if (!pid) continue;
    const t = tree(all, pid);
    for (const p of t) counted.add(p.pid);
    services.push({
      name: f.replace(/\.pid$/, ''),
      pid,
      running: t.length > 0,
      ...(t.length ? { rssKiB: t.reduce((s, p) => s + p.rssKiB, 0) } : {}),
    });
  }
  // Helpers the agents daemonised (privsep, dnsmasq, haproxy) name the lab's folder on their command line.
  const helpers = all.filter((p) => !counted.has(p.pid) && p.cmdline.includes(`${labDir}/`));
  const totalRssKiB = services.reduce((s, x) => s + (x.rssKiB ?? 0), 0) + helpers.reduce((s, p) => s + p.rssKiB, 0);
  return { services, totalRssKiB };
}

/** What `lab down` must not leave: processes naming the lab's folder, its links, namespaces and ports. */
export async function labLeftovers(labDir: string, links: RegExp, ports: number[]): Promise<string[]> {
  const left: string[] = [];
  for (const p of await procs())
    if (p.pid !== process.pid && p.cmdline.includes(`${labDir}/`) && !p.cmdline.startsWith('flock '))
      left.push(`process ${p.pid}: ${p.cmdline.slice(0, 100)}`);
  const ifaces = JSON.parse((await sh('ip', ['-j', 'link', 'show'])).stdout || '[]') as { ifname: string }[];
  for (const l of ifaces) if (links.test(l.ifname)) left.push(`link ${l.ifname}`);
  for (const n of (await sh('ip', ['netns', 'list'], { allowFail: true })).stdout.split('\n'))
    if (/^qdhcp-/.test(n)) left.push(`netns ${n.split(' ')[0]}`);
  const listening = (await sh('ss', ['-ltnH'], { allowFail: true })).stdout;
  for (const port of ports) if (new RegExp(`:${port}\\s`).test(listening)) left.push(`port ${port} listening`);
  return left;
}
