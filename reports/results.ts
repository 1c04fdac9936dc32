/**
 * The one producer of a run's results file. The evidence issue grows this into the full bundle;
 * everything that writes results goes through here.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TaskHandle } from '../adapters/driver.js';
import { redact } from './redact.js';
import type { TranscriptEntry } from './transcript.js';
import { type Check, combineOutcomes, type RequirementOutcome } from './verdict.js';

export const resultsSchemaVersion = 1;

export interface Timing {
  op: string;
  acceptedMs: number;
  doneMs: number;
  handle?: TaskHandle;
}

/** What one conformance test leaves behind (carried from the worker in vitest task meta). */
export interface TestEvidence {
  requirements: string[];
  title: string;
  outcome: RequirementOutcome;
  checks: Check[];
  timings: Timing[];
  transcript: TranscriptEntry[];
  evidence: 'real' | 'container-only' | 'simulated';
  startedAt: string;
  durationMs: number;
}

export interface TestRecord extends TestEvidence {
  file: string;
  state: 'passed' | 'failed' | 'skipped';
}

export interface Stats {
  n: number;
  min: number;
  median: number;
  p90: number;
  p95: number;
  max: number;
}

export interface Results {
  schemaVersion: number;
  runId: string;
  platform: string;
  complete: boolean;
  startedAt: string;
  endedAt?: string;
  harness: { version: string; commit: string };
  platformFacts?: unknown;
  requirements: Record<string, RequirementOutcome & { tests: string[] }>;
  timings: Record<string, { accepted: Stats; done: Stats }>;
  tests: TestRecord[];
}

export function stats(values: number[]): Stats {
  const v = [...values].sort((a, b) => a - b);
  // Nearest-rank percentiles: honest for the small samples a lab run produces.
  const q = (p: number) => v[Math.min(v.length - 1, Math.max(0, Math.ceil(p * v.length) - 1))] ?? 0;
  const r = (x: number) => Math.round(x * 10) / 10;
  return { n: v.length, min: r(v[0] ?? 0), median: r(q(0.5)), p90: r(q(0.9)), p95: r(q(0.95)), max: r(v.at(-1) ?? 0) };
}

export function summarise(tests: TestRecord[]): Pick<Results, 'requirements' | 'timings'> {
  const byReq = new Map<string, { outcomes: RequirementOutcome[]; tests: string[] }>();
  const byOp = new Map<string, { accepted: number[]; done: number[] }>();
  for (const t of tests) {
    for (const id of t.requirements) {
      const e = byReq.get(id) ?? { outcomes: [], tests: [] };
      e.outcomes.push(t.outcome);
      e.tests.push(t.title);
      byReq.set(id, e);
    }
    for (const tm of t.timings) {
      const e = byOp.get(tm.op) ?? { accepted: [], done: [] };
      e.accepted.push(tm.acceptedMs);
      e.done.push(tm.doneMs);
      byOp.set(tm.op, e);
    }
  }
  const requirements: Results['requirements'] = {};
  for (const [id, e] of [...byReq].sort(([a], [b]) => a.localeCompare(b)))
    requirements[id] = { ...combineOutcomes(e.outcomes), tests: e.tests };
  const timings: Results['timings'] = {};
  for (const [op, e] of byOp) timings[op] = { accepted: stats(e.accepted), done: stats(e.done) };
  return { requirements, timings };
}

function harnessIdentity(): Results['harness'] {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    // not a git checkout: the version alone identifies the harness
  }
  return { version: pkg.version, commit };
}

/** Writes results incrementally (atomic rename), so an interrupted run still leaves a valid file. */
export class ResultsWriter {
  private readonly tests: TestRecord[] = [];
  private readonly startedAt = new Date().toISOString();
  private readonly harness = harnessIdentity();

  constructor(
    readonly outDir: string,
    readonly runId: string,
    readonly platform: string,
  ) {}

  get path(): string {
    return join(this.outDir, 'results.json');
  }

  add(t: TestRecord): void {
    this.tests.push(t);
  }

  async write(complete: boolean): Promise<Results> {
    await mkdir(this.outDir, { recursive: true });
    const facts = await readFile(join(this.outDir, 'platform.json'), 'utf8').then(
      (s) => JSON.parse(s) as unknown,
      () => undefined,
    );
    const results: Results = redact({
      schemaVersion: resultsSchemaVersion,
      runId: this.runId,
      platform: this.platform,
      complete,
      startedAt: this.startedAt,
      ...(complete ? { endedAt: new Date().toISOString() } : {}),
      harness: this.harness,
      ...(facts ? { platformFacts: facts } : {}),
      ...summarise(this.tests),
      tests: this.tests,
    });
    const tmp = `${this.path}.tmp`;
    await writeFile(tmp, JSON.stringify(results, null, 2));
    await rename(tmp, this.path);
    return results;
  }
}
