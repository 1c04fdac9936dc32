/**
 * Progress of an evaluation, per platform: `n/total` requirements done and the time left, estimated from
 * what each requirement took in the platform's last run (or, where there is none, the last bench's run).
 * The parent works the plan out; the reporter in the suites' child prints one line per requirement.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Handed to the reporter (env `VMCONFORM_PROGRESS`). */
export interface ProgressPlan {
  platform: string;
  /** Every requirement this platform's run produces evidence for, across its passes. */
  ids: string[];
  /** Those an earlier pass of the same run already reported. */
  done: string[];
  /** Milliseconds each requirement took before, and where that figure comes from; absent: no estimate. */
  estimate?: { ms: Record<string, number>; source: string };
}

export const progressEnv = 'VMCONFORM_PROGRESS';

interface TestTimes {
  tests: { requirements: string[]; durationMs: number }[];
}

/** A test's time, shared among the requirements it evidences. */
export function perRequirement(b: TestTimes): Record<string, number> {
  const ms: Record<string, number> = {};
  for (const t of b.tests)
    for (const id of t.requirements) ms[id] = (ms[id] ?? 0) + t.durationMs / Math.max(1, t.requirements.length);
  return ms;
}

const readTimes = (path: string) =>
  readFile(path, 'utf8').then(
    (s) => {
      const b = JSON.parse(s) as Partial<TestTimes>;
      return Array.isArray(b.tests) && b.tests.length > 0 ? (b as TestTimes) : undefined;
    },
    () => undefined,
  );

/** How many of the newest runs in the output folder are read for timings. */
const recentRuns = 20;

const newestFirst = async (dir: string) => (await readdir(dir).catch(() => [] as string[])).sort().reverse();

/**
 * The estimate for a platform: its newest earlier bundle under the output folder (`<out>/<run>/<platform>`,
 * run ids sort by time), else the newest bench's suite run of it (`<bench>/<run>/suites/<mode>/<platform>/…`).
 */
export async function lastTimings(
  outRoot: string,
  benchRoot: string,
  platform: string,
  runId: string,
): Promise<ProgressPlan['estimate']> {
  // A narrowed run times only what it ran: each requirement's figure is from the newest run that ran it.
  const ms: Record<string, number> = {};
  const used: string[] = [];
  for (const run of (await newestFirst(outRoot)).filter((r) => r !== runId).slice(0, recentRuns)) {
    const b = await readTimes(join(outRoot, run, platform, 'results.json'));
    if (!b) continue;
    const got = Object.entries(perRequirement(b)).filter(([id]) => ms[id] === undefined);
    if (got.length > 0) used.push(run);
    for (const [id, v] of got) ms[id] = v;
  }
  if (used.length > 0)
    return { ms, source: used.length === 1 ? `last run ${used[0]}` : `last ${used.length} runs (newest ${used[0]})` };
  for (const bench of await newestFirst(benchRoot))
    for (const mode of ['solo', 'parallel']) {
      const dir = join(benchRoot, bench, 'suites', mode, platform);
      for (const run of await newestFirst(dir)) {
        const b = await readTimes(join(dir, run, platform, 'results.json'));
        if (b) return { ms: perRequirement(b), source: `bench ${bench}` };
      }
    }
  return undefined;
}

const minutes = (ms: number) =>
  ms < 60_000 ? `${Math.max(1, Math.round(ms / 1000))} s` : `${Math.round(ms / 60_000)} min`;

/** Counts requirements as their tests report, and prefixes each line with the platform, n/total and time left. */
export class Progress {
  private readonly done: Set<string>;

  constructor(private readonly plan: ProgressPlan) {
    this.done = new Set(plan.done);
  }

  static fromEnv(value: string | undefined): Progress | undefined {
    return value ? new Progress(JSON.parse(value) as ProgressPlan) : undefined;
  }

  line(requirements: readonly string[], text: string): string {
    for (const id of requirements) if (this.plan.ids.includes(id)) this.done.add(id);
    const { ids, estimate } = this.plan;
    const left = ids.filter((id) => !this.done.has(id));
    let eta = 'no estimate';
    if (estimate) {
      const known = left.filter((id) => estimate.ms[id] !== undefined);
      const ms = known.reduce((s, id) => s + (estimate.ms[id] ?? 0), 0);
      eta =
        left.length === 0
          ? 'done'
          : `~${minutes(ms)} left${known.length < left.length ? ` (+${left.length - known.length} not timed before)` : ''}`;
    }
    return `${this.plan.platform} ${this.done.size}/${ids.length} ${text} [${eta}]`;
  }
}
