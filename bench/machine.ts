/**
 * What the machine did while a benchmark step ran, read from /proc: CPU busy and iowait, disk bytes,
 * and CPU-seconds and peak RSS per process group (the harness, the platform daemon, the guests).
 * Parsing is pure and unit tested; the sampler is the only part that reads /proc.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import type { Stats } from '../evidence/results.js';
import { machineLoad } from '../host/load.js';
import { type Limit, machineShare, type Usage } from '../reports/bench.js';

/** Clock ticks per second for /proc/<pid>/stat times; 100 on every Linux this runs on. */
const ticksPerS = 100;
const pageBytes = 4096;

export interface CpuTimes {
  busy: number;
  iowait: number;
  total: number;
}

/** The aggregate `cpu` line of /proc/stat, in ticks. Guest time is already inside user. */
export function parseProcStat(text: string): CpuTimes {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('/proc/stat: no aggregate cpu line');
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, iowait, total: busy + idle + iowait };
}

/** Whole disks only (partitions and device-mapper would count the same bytes twice). */
const wholeDisk = /^(sd[a-z]+|vd[a-z]+|xvd[a-z]+|hd[a-z]+|nvme\d+n\d+|mmcblk\d+)$/;

/** Bytes read and written on whole disks, from /proc/diskstats (sectors are 512 bytes there). */
export function parseDiskstats(text: string): { readBytes: number; writeBytes: number } {
  let readBytes = 0;
  let writeBytes = 0;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !wholeDisk.test(f[2] ?? '')) continue;
    readBytes += Number(f[5]) * 512;
    writeBytes += Number(f[9]) * 512;
  }
  return { readBytes, writeBytes };
}

export interface ProcInfo {
  pid: number;
  /** The cgroup v2 path, read only where a name does not tell (containers' processes). */
  cgroup?: string;
  ppid: number;
  comm: string;
  /** utime + stime, in ticks. */
  cpuTicks: number;
  /** cutime + cstime: children this process has waited for, in ticks. */
  childTicks: number;
  rssBytes: number;
}

/** One /proc/<pid>/stat line. comm may hold spaces and parentheses, so fields are counted after the last ')'. */
export function parsePidStat(pid: number, text: string): ProcInfo {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  const comm = text.slice(open + 1, close);
  // After ')': state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17) ... rss(24).
  const f = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  const at = (field: number) => Number(f[field - 3] ?? 0);
  return {
    pid,
    ppid: at(4),
    comm,
    cpuTicks: at(14) + at(15),
    childTicks: at(16) + at(17),
    rssBytes: at(24) * pageBytes,
  };
}

/** Names a process's group, or undefined to leave it out. `under(root)` is true when root is an ancestor or itself. */
export type Classify = (p: ProcInfo, under: (root: number) => boolean) => string | undefined;

/** Daemons and guests of the platforms this harness drives, by process name; everything under a harness root is that group. */
export function platformClassifier(harnessRoots: Record<string, number>, daemonPids: readonly number[] = []): Classify {
  return (p, under) => {
    for (const [group, root] of Object.entries(harnessRoots)) if (under(root)) return group;
    if (p.comm.startsWith('qemu-system')) return 'guests';
    // The labs' own record of what they started: a simulator is a plain `node` by name.
    if (daemonPids.includes(p.pid)) return 'daemon';
    if (/^(libvirtd|virtqemud|virtlogd|incusd|lxcfs|dnsmasq|nats-server)$/.test(p.comm)) return 'daemon';
    // Incus (LXC) puts a container's processes under lxc.payload.<name> and its monitor under lxc.monitor.<name>.
    if (p.cgroup?.includes('/lxc.payload.')) return 'guests';
    if (p.cgroup?.includes('/lxc.monitor.')) return 'daemon';
    return undefined;
  };
}

export interface Sampled {
  usage: Usage;
  peakRssMiB: Record<string, number>;
}

/**
 * Samples /proc every `intervalMs` until stop(). Per process, CPU is counted from its first sample (0 if it
 * was born inside the window) to its last, so short-lived guests are counted to within one interval.
 * `roots` also count their reaped children (cutime): the short-lived virsh calls the harness makes.
 * A sample reads /proc synchronously (a few ms): its own CPU is then exactly this process's CPU during the
 * call, reported as `sampler` and taken out of the harness group it would otherwise inflate.
 */
export function sampleUsage(classify: Classify, roots: readonly number[], intervalMs = 500): { stop: () => Sampled } {
  const t0 = performance.now();
  const base = new Map<number, number>();
  const last = new Map<number, { group: string; ticks: number }>();
  const peak: Record<string, number> = {};
  const cgroups = new Map<number, string>();
  let first = true;
  let samplerUs = 0;
  /** The group this process falls in, if any: the sampler's CPU comes out of it. */
  let selfGroup: string | undefined;

  const sample = () => {
    const c0 = process.cpuUsage();
    const procs = readProcs(cgroups);
    const byPid = new Map(procs.map((p) => [p.pid, p]));
    const rss: Record<string, number> = {};
    for (const p of procs) {
      const under = (root: number) => {
        for (let q: ProcInfo | undefined = p, hops = 0; q && hops < 64; q = byPid.get(q.ppid), hops++)
          if (q.pid === root) return true;
        return false;
      };
      const group = classify(p, under);
      if (!group) continue;
      if (p.pid === process.pid) selfGroup = group;
      // A harness root's reaped children count as its own: they are gone before any sample sees them.
      const ticks = p.cpuTicks + (roots.includes(p.pid) ? p.childTicks : 0);
      if (!base.has(p.pid)) base.set(p.pid, first ? ticks : 0);
      last.set(p.pid, { group, ticks });
      rss[group] = (rss[group] ?? 0) + p.rssBytes;
    }
    for (const [g, b] of Object.entries(rss)) peak[g] = Math.max(peak[g] ?? 0, b);
    first = false;
    const c = process.cpuUsage(c0);
    samplerUs += c.user + c.system;
  };
  // The window opens once the first sample is in, so nothing before it is counted.
  const cpu0 = parseProcStat(readFileSync('/proc/stat', 'utf8'));
  const disk0 = readDisk();
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      const cpu1 = parseProcStat(readFileSync('/proc/stat', 'utf8'));
      const disk1 = readDisk();
      const c0 = cpu0;
      const d0 = disk0;
      const total = Math.max(1, cpu1.total - c0.total);
      const cpuS: Record<string, number> = {};
      for (const [pid, { group, ticks }] of last)
        cpuS[group] = (cpuS[group] ?? 0) + Math.max(0, ticks - (base.get(pid) ?? 0)) / ticksPerS;
      // The sampler runs inside the harness (the bench process): its share is its own, not the harness's.
      const samplerS = samplerUs / 1e6;
      if (selfGroup) cpuS[selfGroup] = Math.max(0, (cpuS[selfGroup] ?? 0) - samplerS);
      cpuS.sampler = samplerS;
      // Busy CPU no group accounts for: other work on the machine, kernel threads, exits between samples.
      const grouped = Object.values(cpuS).reduce((a, b) => a + b, 0);
      cpuS.other = Math.max(0, (cpu1.busy - c0.busy) / ticksPerS - grouped);
      const r = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
      return {
        usage: {
          wallS: r((performance.now() - t0) / 1000, 2),
          cores: cpus().length,
          cpuBusyPct: r(((cpu1.busy - c0.busy) / total) * 100),
          iowaitPct: r(((cpu1.iowait - c0.iowait) / total) * 100),
          diskReadMiB: r((disk1.readBytes - d0.readBytes) / 2 ** 20),
          diskWriteMiB: r((disk1.writeBytes - d0.writeBytes) / 2 ** 20),
          cpuS: Object.fromEntries(Object.entries(cpuS).map(([g, s]) => [g, r(s, 2)])),
          loadAvg1: machineLoad().load1,
        },
        peakRssMiB: Object.fromEntries(Object.entries(peak).map(([g, b]) => [g, Math.round(b / 2 ** 20)])),
      };
    },
  };
}

function readDisk() {
  try {
    return parseDiskstats(readFileSync('/proc/diskstats', 'utf8'));
  } catch {
    return { readBytes: 0, writeBytes: 0 };
  }
}

const readOr = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    // A process may exit between readdir and read.
    return undefined;
  }
};

/** Every process's stat; its cgroup is read once per pid (cached) since a process does not change container. */
function readProcs(cgroups: Map<number, string>): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const text = readOr(`/proc/${name}/stat`);
    if (!text) continue;
    if (!cgroups.has(pid)) cgroups.set(pid, readOr(`/proc/${name}/cgroup`) ?? '');
    out.push({ ...parsePidStat(pid, text), cgroup: cgroups.get(pid) });
  }
  return out;
}

/** The pids whose parent is `pid`, from /proc. */
export function childrenOf(pid: number): number[] {
  return readProcs(new Map())
    .filter((p) => p.ppid === pid)
    .map((p) => p.pid);
}

/** A group's share of the machine, to 0.1 %. */
export const machinePct = (u: Usage, group: string) => Math.round(machineShare(u, group) * 10) / 10;

/**
 * Where a scale step hit its limit. Saturation first: CPU (TCG guests are CPU-bound), disk, a daemon that
 * burns a core. Then slowdown against one VM alone: per-VM time that grew by half or more is put on the
 * CPU when it was mostly busy (the window also holds the quiet create and delete calls, which dilute the
 * average), else on the platform doing the VMs one at a time. Otherwise no limit at this count.
 */
export function classifyLimit(
  step: { vms: number; wallMs: number; perVm: Stats; usage: Usage },
  single?: { wallMs: number; perVm: Stats },
): Limit {
  const u = step.usage;
  const shares = ['guests', 'daemon', 'harness', 'sampler', 'other']
    .filter((g) => u.cpuS[g] !== undefined)
    .map((g) => `${g} ${machinePct(u, g)}%`)
    .join(', ');
  const of = shares ? ` (${shares} of the machine)` : '';
  if (u.cpuBusyPct >= 85) return { kind: 'cpu', why: `CPU ${u.cpuBusyPct}% busy across ${u.cores} cores${of}` };
  if (u.iowaitPct >= 20)
    return { kind: 'disk', why: `${u.iowaitPct}% iowait, ${u.diskWriteMiB} MiB written in ${u.wallS} s` };
  const daemonCore = ((u.cpuS.daemon ?? 0) / Math.max(0.001, u.wallS)) * 100;
  if (daemonCore >= 90)
    return { kind: 'daemon', why: `the platform daemon used ${Math.round(daemonCore)}% of one core` };
  if (single && step.vms > 1) {
    const slower = step.perVm.median / Math.max(1, single.perVm.median);
    const wallGrowth = step.wallMs / Math.max(1, single.wallMs);
    if (slower >= 1.5 && u.cpuBusyPct >= 60)
      return {
        kind: 'cpu',
        why: `each VM took ${slower.toFixed(1)}× as long as one alone with the CPU ${u.cpuBusyPct}% busy${of}`,
      };
    if (wallGrowth >= 0.75 * step.vms || slower >= 1.5)
      return {
        kind: 'serialised',
        why: `wall grew ${wallGrowth.toFixed(1)}× for ${step.vms}× the VMs (each ${slower.toFixed(1)}× as long) with the CPU only ${u.cpuBusyPct}% busy: the platform handles them one at a time`,
      };
  }
  return {
    kind: 'none',
    why: `not reached at ${step.vms}: CPU ${u.cpuBusyPct}% busy${of}, ${u.iowaitPct}% iowait`,
  };
}
