/**
 * The one producer of a run's evidence bundle (out/<run>/<platform>/results.json, schema in
 * bundle.ts). The reporter adds each test as it ends and rewrites the file, so an interrupted run
 * still leaves a valid bundle marked incomplete; the platform run then folds its leak check in.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import {
  type Attempt,
  type Bundle,
  type BundleTest,
  bundleSchemaVersion,
  type EvidenceKind,
  parseBundle,
  type TimelineEntry,
  type taskHandleSchema,
} from './bundle.js';
import { requireProof } from './checks.js';
import { redact } from './redact.js';
import { stats } from './stats.js';
import type { TranscriptEntry } from './transcript.js';
import { type Check, combineOutcomes, type ProofKind, type RequirementOutcome } from './verdict.js';

export type { Stats } from './bundle.js';

export interface Timing {
  op: string;
  /** 'phase' for a measured readiness phase (e.g. start -> guest ready); default 'op'. */
  kind?: 'op' | 'phase';
  acceptedMs: number;
  doneMs: number;
  handle?: z.infer<typeof taskHandleSchema>;
}

/** What one conformance test leaves behind (carried from the worker in vitest task meta). */
export interface TestEvidence {
  requirements: string[];
  title: string;
  outcome: RequirementOutcome;
  checks: Check[];
  timings: Timing[];
  transcript: TranscriptEntry[];
  /** Contract calls on VMs during this test, with the power state read back. */
  timeline?: TimelineEntry[];
  evidence: EvidenceKind;
  startedAt: string;
  durationMs: number;
  /** Every attempt when the test was retried (evidence/attempts.ts). */
  attempts?: Attempt[];
}

export interface TestRecord extends TestEvidence {
  file: string;
  state: 'passed' | 'failed' | 'skipped';
}

const evidenceRank: EvidenceKind[] = ['simulated', 'container-only', 'real'];

/** Per requirement, the proof kinds a pass needs (from the registry, which sits above this layer). */
export type ProofNeeds = Readonly<Record<string, readonly ProofKind[]>>;

/**
 * Per-requirement verdicts, timing statistics and per-VM timelines, derived from the tests. A pass
 * whose checks (over all its tests) lack a proof kind `needs` names for it is partial.
 */
export function summarise(
  tests: BundleTest[],
  needs: ProofNeeds = {},
): Pick<Bundle, 'requirements' | 'timings' | 'timeline'> {
  const byReq = new Map<string, BundleTest[]>();
  const ops = new Map<string, { accepted: number[]; done: number[] }>();
  const phases = new Map<string, number[]>();
  const timeline: Bundle['timeline'] = {};
  for (const t of tests) {
    for (const id of t.requirements) byReq.set(id, [...(byReq.get(id) ?? []), t]);
    for (const tm of t.timings) {
      if (tm.kind === 'phase') {
        phases.set(tm.op, [...(phases.get(tm.op) ?? []), tm.doneMs]);
        continue;
      }
      const e = ops.get(tm.op) ?? { accepted: [], done: [] };
      e.accepted.push(tm.acceptedMs);
      e.done.push(tm.doneMs);
      ops.set(tm.op, e);
    }
    for (const e of t.timeline) {
      timeline[e.vm] ??= [];
      timeline[e.vm]?.push(e);
    }
  }
  const requirements: Bundle['requirements'] = {};
  for (const [id, ts] of [...byReq].sort(([a], [b]) => a.localeCompare(b))) {
    const checks = ts.flatMap((t) => t.checks.map((c) => ({ ...c, test: t.id })));
    requirements[id] = {
      ...requireProof(combineOutcomes(ts.map((t) => t.outcome)), checks, needs[id] ?? []),
      evidence: evidenceRank.find((k) => ts.some((t) => t.evidence === k)) ?? 'real',
      checks,
      tests: ts.map((t) => t.id),
    };
  }
  const operations: Bundle['timings']['operations'] = {};
  for (const [op, e] of [...ops].sort(([a], [b]) => a.localeCompare(b)))
    operations[op] = { accepted: stats(e.accepted), done: stats(e.done) };
  const phaseStats: Bundle['timings']['phases'] = {};
  for (const [p, v] of [...phases].sort(([a], [b]) => a.localeCompare(b))) phaseStats[p] = stats(v);
  for (const entries of Object.values(timeline)) entries.sort((a, b) => a.at.localeCompare(b.at));
  return { requirements, timings: { operations, phases: phaseStats }, timeline };
}

const repoDir = fileURLToPath(new URL('../', import.meta.url));

export function harnessIdentity(): Bundle['harness'] {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  const git = (...args: string[]) =>
    execFileSync('git', args, { stdio: ['ignore', 'pipe', 'ignore'], cwd: repoDir })
      .toString()
      .trim();
  try {
    // Uncommitted changes to tracked files mean the commit alone does not say what ran.
    return {
      version: pkg.version,
      commit: git('rev-parse', 'HEAD'),
      dirty: git('status', '--porcelain', '--untracked-files=no') !== '',
    };
  } catch {
    // not a git checkout: the version alone identifies the harness
    return { version: pkg.version, commit: 'unknown' };
  }
}

const readJsonOr = <T>(path: string): Promise<T | null> =>
  readFile(path, 'utf8').then(
    (s) => JSON.parse(s) as T,
    () => null,
  );

/** Validates, redacts and writes atomically: a reader never sees half a bundle. */
export async function writeBundle(path: string, bundle: Bundle): Promise<Bundle> {
  const valid = parseBundle(redact(bundle), `${path} (being written)`);
  const tmp = `${path}.tmp`;
  await writeFile(tmp, JSON.stringify(valid, null, 2));
  await rename(tmp, path);
  return valid;
}

/** Writes the bundle incrementally, so an interrupted run still leaves a valid one. */
export class ResultsWriter {
  private readonly tests: BundleTest[] = [];
  private startedAt = new Date().toISOString();
  private readonly harness = harnessIdentity();

  constructor(
    readonly outDir: string,
    readonly runId: string,
    readonly platform: string,
    /** The ids a narrowed run was limited to (recorded so a report tells "not selected" from "not run"). */
    readonly selected?: string[],
    /** What each requirement's pass must be proven by (the registry's proof kinds). */
    readonly needs: ProofNeeds = {},
  ) {}

  get path(): string {
    return join(this.outDir, 'results.json');
  }

  /** Continues the bundle an earlier pass of the same run wrote here (its tests first, its start time). */
  resume(): void {
    let earlier: Pick<Bundle, 'tests' | 'startedAt' | 'runId'>;
    try {
      earlier = JSON.parse(readFileSync(this.path, 'utf8')) as Bundle;
    } catch {
      return; // nothing written yet: this pass starts the bundle
    }
    if (earlier.runId !== this.runId) return;
    this.tests.push(...earlier.tests);
    this.startedAt = earlier.startedAt;
  }

  add(t: TestRecord): void {
    const { timeline, timings, ...rest } = t;
    this.tests.push({
      ...rest,
      id: `${t.file}#${this.tests.filter((x) => x.file === t.file).length + 1}`,
      timings: timings.map((tm) => ({ ...tm, kind: tm.kind ?? 'op' })),
      timeline: timeline ?? [],
    });
  }

  async write(complete: boolean): Promise<Bundle> {
    await mkdir(this.outDir, { recursive: true });
    // platform.json is written by the suites' worker when it connects; leaks.json by the platform run.
    const facts = await readJsonOr<Bundle['facts'] & { configHash?: string }>(join(this.outDir, 'platform.json'));
    const leaks = await readJsonOr<Bundle['leaks']>(join(this.outDir, 'leaks.json'));
    const { configHash, ...platformFacts } = facts ?? {};
    return writeBundle(this.path, {
      schemaVersion: bundleSchemaVersion,
      runId: this.runId,
      platform: this.platform as Bundle['platform'],
      complete,
      ...(this.selected ? { selected: this.selected } : {}),
      startedAt: this.startedAt,
      ...(complete ? { endedAt: new Date().toISOString() } : {}),
      harness: this.harness,
      configHash: configHash ?? null,
      facts: facts ? (platformFacts as Bundle['facts']) : null,
      ...summarise(this.tests, this.needs),
      leaks,
      tests: this.tests,
    });
  }

  /**
   * Folds what only the parent knows after the suites (leak check, interrupt) into the bundle the
   * reporter wrote; creates an empty incomplete bundle when the suites never got to write one.
   */
  static async finish(
    outDir: string,
    runId: string,
    platform: string,
    leaks: NonNullable<Bundle['leaks']>,
    interrupted: boolean,
  ): Promise<Bundle> {
    const path = join(outDir, 'results.json');
    const existing = await readFile(path, 'utf8').then(
      (s) => parseBundle(JSON.parse(s), path),
      (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return null;
        throw e;
      },
    );
    const base = existing ?? (await new ResultsWriter(outDir, runId, platform).write(false));
    return writeBundle(path, { ...base, leaks, complete: base.complete && !interrupted });
  }
}
