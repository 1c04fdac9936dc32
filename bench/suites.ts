/**
 * Suite time: whole `vmconform evaluate` runs, each platform's alone one after another, and one of all
 * platforms at once (evaluate's default), each under /usr/bin/time (wall, CPU of the run and everything it
 * waited for), with the process tree's peak RSS and the machine's usage sampled alongside; each platform's
 * time to verdict, and what dominates it from its own evidence bundle.
 */
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Platform } from '../adapters/contract/index.js';
import { type Bundle, readBundle } from '../evidence/bundle.js';
import type { LabUp, SuiteRun, SuiteSet } from '../reports/bench.js';
import { repoRoot } from '../run/vitest-run.js';
import { childrenOf, platformClassifier, sampleUsage } from './machine.js';

/** /usr/bin/time -f '%e %U %S' output: wall, user, system seconds. */
export function parseTime(text: string): { wallS: number; cpuS: number } | undefined {
  const line = text.trim().split('\n').pop() ?? '';
  const [wall, user, sys] = line.trim().split(/\s+/).map(Number);
  if (wall === undefined || user === undefined || sys === undefined || [wall, user, sys].some(Number.isNaN))
    return undefined;
  return { wallS: wall, cpuS: Math.round((user + sys) * 100) / 100 };
}

/** Counts, time inside platform calls against the tests' total, the slowest suite files and the guest boots. */
type Breakdown = Pick<SuiteRun, 'counts' | 'apiS' | 'testsS' | 'slowest' | 'evidence' | 'boots'>;

/**
 * A call that boots a guest, as each platform's transcript writes it: a start or reboot (libvirt, Incus,
 * Proxmox), and on OpenStack a server create (Nova boots it) or a start or reboot action. Under TCG a boot
 * is most of a suite's time, so the count says how much a suite pays for its guests.
 */
const bootCall = [
  /^virsh -c \S+ (start|reboot) /,
  /^PUT \/1\.0\/instances\/[^/ ]+\/state\S* \{"action":"(start|restart)"/,
  /^POST \S*\/qemu\/\d+\/status\/(start|reboot|reset)\b/,
  /^POST \S*\/servers \{/,
  /^POST \S*\/servers\/[^/ ]+\/action \{"(os-start|reboot)"/,
];
export const isBootCall = (request: string): boolean => bootCall.some((r) => r.test(request));

export function bundleBreakdown(b: Bundle): Breakdown {
  const counts = { passed: 0, failed: 0, skipped: 0 };
  const files = new Map<string, { ms: number; tests: number }>();
  const boots: Record<string, number> = {};
  let apiMs = 0;
  let testsMs = 0;
  for (const t of b.tests) {
    counts[t.state] += 1;
    testsMs += t.durationMs;
    for (const e of t.transcript) {
      apiMs += e.durationMs;
      if (isBootCall(e.request)) boots[t.file] = (boots[t.file] ?? 0) + 1;
    }
    const f = files.get(t.file) ?? { ms: 0, tests: 0 };
    f.ms += t.durationMs;
    f.tests += 1;
    files.set(t.file, f);
  }
  const s = (ms: number) => Math.round(ms / 100) / 10;
  return {
    counts,
    apiS: s(apiMs),
    testsS: s(testsMs),
    slowest: [...files]
      .sort(([, a], [, b]) => b.ms - a.ms)
      .slice(0, 3)
      .map(([file, f]) => ({ file, seconds: s(f.ms), tests: f.tests })),
    evidence: b.facts?.capabilities.evidence ?? null,
    boots: {
      total: Object.values(boots).reduce((a, n) => a + n, 0),
      byFile: Object.fromEntries(Object.entries(boots).sort(([, a], [, b]) => b - a)),
    },
  };
}

/** The bundle an evaluate run wrote under its output folder: <out>/<run>/<platform>/results.json. */
async function findBundle(out: string, platform: Platform): Promise<string | undefined> {
  const runs = await readdir(out).catch(() => [] as string[]);
  return runs.map((run) => join(out, run, platform, 'results.json')).find((p) => existsSync(p));
}

export interface SuiteOptions {
  configPath: string;
  out: string;
  daemonPids: number[];
  say: (m: string) => void;
}

/** The /usr/bin/time processes of the suite runs now going. */
const live = new Set<number>();

/**
 * Passes an interrupt on to each running evaluate, which then removes what it created and writes its
 * bundle. GNU time ignores SIGINT while it waits, so the signal goes to its child, the evaluate itself.
 */
export function interruptSuites(): void {
  for (const timePid of live)
    for (const pid of childrenOf(timePid))
      try {
        process.kill(pid, 'SIGINT');
      } catch {
        // already gone
      }
}

/** The line an evaluate prints when a platform has its verdicts: `<platform>: <tally>; … tests failed; bundle: <path>`. */
export const verdictLine = /^\[vmconform\] ([a-z]+): .*; \d+ of \d+ tests failed; bundle: (\S+)$/;

/**
 * One evaluate run of the given platforms (one: alone; several: at once, evaluate's default); its output
 * goes to <dir>/evaluate.log, its progress lines to say(), and each platform's time to verdict (from the
 * start to its verdict line) to `verdicts`.
 */
function startSuite(platforms: Platform[], dir: string, opts: SuiteOptions) {
  const timeFile = join(dir, 'time.txt');
  const t0 = performance.now();
  const verdicts = new Map<string, { seconds: number; bundle: string }>();
  const child = execa(
    '/usr/bin/time',
    [
      '-o',
      timeFile,
      '-f',
      '%e %U %S',
      'node',
      join(repoRoot, 'scripts/bin.mjs'),
      'evaluate',
      '-p',
      platforms.join(','),
      '--no-lab',
      '-c',
      opts.configPath,
      '-o',
      dir,
    ],
    { cwd: repoRoot, stdin: 'ignore', reject: false, all: true, buffer: false },
  );
  if (child.pid) live.add(child.pid);
  void child.finally(() => live.delete(child.pid ?? -1));
  const log = createWriteStream(join(dir, 'evaluate.log'));
  child.all?.pipe(log);
  // evaluate's own progress lines (its [vmconform] prefix), not every vitest line; a chunk can end mid-line.
  let rest = '';
  const label = platforms.length === 1 ? `${platforms[0]}: ` : '';
  child.all?.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('[vmconform]')) continue;
      const text = line.slice(12);
      opts.say(label && !text.startsWith(label.slice(0, -2)) ? `${label}${text}` : text);
      const m = verdictLine.exec(line);
      if (m) verdicts.set(m[1] as string, { seconds: (performance.now() - t0) / 1000, bundle: m[2] as string });
    }
  });
  return { child, dir, timeFile, verdicts };
}

/** What a platform's bundle says; an error when there is none or it cannot be read. */
async function breakdownOf(bundlePath: string | undefined, log: string): Promise<Breakdown & { error?: string }> {
  const none: Breakdown = {
    counts: { passed: 0, failed: 0, skipped: 0 },
    apiS: 0,
    testsS: 0,
    slowest: [],
    evidence: null,
    boots: { total: 0, byFile: {} },
  };
  if (!bundlePath) return { ...none, error: `no evidence bundle written (see ${log})` };
  try {
    return bundleBreakdown(await readBundle(bundlePath));
  } catch (e) {
    return { ...none, error: e instanceof Error ? e.message : String(e) };
  }
}

async function finishSuite(
  platform: Platform,
  s: ReturnType<typeof startSuite>,
  peakRssMiB: number | undefined,
): Promise<SuiteRun> {
  const r = await s.child;
  const time = parseTime(await readFile(s.timeFile, 'utf8').catch(() => ''));
  const bundlePath = await findBundle(s.dir, platform);
  const b = await breakdownOf(bundlePath, join(s.dir, 'evaluate.log'));
  return {
    wallS: time?.wallS ?? 0,
    cpuS: time?.cpuS ?? 0,
    peakRssMiB: peakRssMiB ?? 0,
    exitCode: r.exitCode ?? -1,
    ...b,
    bundle: bundlePath ?? null,
  };
}

/**
 * All platforms in one evaluate, at once ('parallel', evaluate's default: a quiet window per platform after
 * the concurrent phase), or each platform's evaluate alone, one after another ('solo'), with the machine
 * sampled throughout. At once, a platform's wall is its time to verdict within the whole run, and the
 * run's CPU and peak RSS are the whole evaluate's (the set's `evaluate`).
 */
export async function runSuites(
  mode: 'parallel' | 'solo',
  platforms: Platform[],
  opts: SuiteOptions,
): Promise<SuiteSet> {
  const out = join(opts.out, mode);
  const t0 = performance.now();
  const runs: SuiteSet['runs'] = {};
  if (mode === 'parallel') {
    await mkdir(out, { recursive: true });
    const s = startSuite(platforms, out, opts);
    const sampler = sampleUsage(platformClassifier({ harness: s.child.pid ?? -1 }, opts.daemonPids), []);
    const r = await s.child;
    const sampled = sampler.stop();
    const time = parseTime(await readFile(s.timeFile, 'utf8').catch(() => ''));
    for (const p of platforms) {
      const v = s.verdicts.get(p);
      const bundlePath = v?.bundle ?? (await findBundle(out, p));
      runs[p] = {
        wallS: Math.round((v?.seconds ?? time?.wallS ?? 0) * 10) / 10,
        exitCode: r.exitCode ?? -1,
        ...(await breakdownOf(bundlePath, join(out, 'evaluate.log'))),
        bundle: bundlePath ?? null,
      };
    }
    return {
      wallS: Math.round((performance.now() - t0) / 100) / 10,
      usage: sampled.usage,
      runs,
      evaluate: { cpuS: time?.cpuS ?? 0, peakRssMiB: sampled.peakRssMiB.harness ?? 0, exitCode: r.exitCode ?? -1 },
    };
  }
  for (const p of platforms) await mkdir(join(out, p), { recursive: true });
  const whole = sampleUsage(platformClassifier({}, opts.daemonPids), []);
  for (const p of platforms) {
    const s = startSuite([p], join(out, p), opts);
    const sampler = sampleUsage(platformClassifier({ harness: s.child.pid ?? -1 }, opts.daemonPids), []);
    await s.child;
    runs[p] = await finishSuite(p, s, sampler.stop().peakRssMiB.harness);
  }
  const sampled = whole.stop();
  return { wallS: Math.round((performance.now() - t0) / 100) / 10, usage: sampled.usage, runs };
}

/**
 * The bring-up time each lab a platform needs recorded (its own lab, further sites, NATS; from `lab status`):
 * time to verdict "lab up included" adds them. A lab with no record is left out of `labs` (and so adds nothing).
 */
export function labUpTimes(
  labsOf: (platform: Platform) => string[],
  states: ReadonlyMap<string, unknown>,
  platforms: Platform[],
): LabUp {
  const out: LabUp = { labs: {}, platforms: {} };
  for (const p of platforms) {
    out.platforms[p] = labsOf(p);
    for (const name of labsOf(p)) {
      const s = states.get(name) as { bringUp?: { ms?: unknown; cold?: unknown }; bringUpMs?: unknown } | undefined;
      const ms =
        typeof s?.bringUp?.ms === 'number' ? s.bringUp.ms : typeof s?.bringUpMs === 'number' ? s.bringUpMs : undefined;
      if (ms !== undefined) out.labs[name] = { seconds: Math.round(ms / 100) / 10, cold: s?.bringUp?.cold === true };
    }
  }
  return out;
}
