/**
 * The evidence bundle: one platform run's results.json. Versioned and validated with this schema on
 * write (ResultsWriter) and on read (the report), so a hand-edited or truncated file is rejected with
 * the path of the bad field instead of rendering nonsense.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ConfigInvalid } from './errors.js';
import { proofKinds, verdicts } from './verdict.js';

/** v1: results only. v2: the bundle (facts, hosts, leaks, phases, timelines, per-requirement checks). */
/**
 * A platform's registered name. The bundle does not list the platforms (the registry does, above this
 * layer): the CLI refuses an unregistered platform before a run starts, so no run ends on this check.
 */
export const platformName = z.string().regex(/^[a-z][a-z0-9-]*$/, 'a platform name (lowercase letters, digits, -)');

export const bundleSchemaVersion = 2;

export const evidenceKind = z.enum(['real', 'container-only', 'simulated']);
export type EvidenceKind = z.infer<typeof evidenceKind>;

const check = z.object({
  name: z.string(),
  ok: z.boolean(),
  status: z.enum(['unsupported', 'prereq-missing', 'unobservable']).optional(),
  proof: z.enum(proofKinds).optional(),
  expected: z.unknown().optional(),
  actual: z.unknown().optional(),
  detail: z.string().optional(),
});

const outcome = z.object({
  verdict: z.enum(verdicts),
  reasonCode: z.string().optional(),
  reason: z.string().optional(),
});

export const taskHandleSchema = z.object({
  kind: z.enum(['task', 'operation', 'request', 'none']),
  id: z.string().nullable(),
  note: z.string().optional(),
});

const timing = z.object({
  op: z.string(),
  /** 'op': a platform call (accepted -> done); 'phase': a measured readiness phase (e.g. start -> guest ready). */
  kind: z.enum(['op', 'phase']).default('op'),
  acceptedMs: z.number(),
  doneMs: z.number(),
  handle: taskHandleSchema.optional(),
});

const transcriptEntry = z.object({
  seq: z.number().int(),
  at: z.string(),
  kind: z.enum(['command', 'http']),
  request: z.string(),
  response: z.string(),
  ok: z.boolean(),
  durationMs: z.number(),
  taskId: z.string().nullable().optional(),
  error: z.string().optional(),
});

/** One entry of a VM's state timeline: a contract call on it, and the power state read back where known. */
const timelineEntry = z.object({
  at: z.string(),
  vm: z.string(),
  op: z.string(),
  ok: z.boolean(),
  power: z.string().optional(),
  detail: z.string().optional(),
});

/** A verdict an earlier run gave, kept in a rerun's bundle beside the one that replaced it. */
const earlierVerdict = outcome.extend({ runId: z.string() });

/** One run of a retried test (evaluate --retries): its own outcome and checks. */
const attempt = z.object({ outcome, checks: z.array(check), startedAt: z.string(), durationMs: z.number() });

const test = z.object({
  /** Stable within the bundle: '<file>#<n>'; requirements link to tests by it. */
  id: z.string(),
  /** Set on a test carried from an earlier run into a rerun's bundle: that run's id. */
  run: z.string().optional(),
  file: z.string(),
  title: z.string(),
  requirements: z.array(z.string()).min(1),
  state: z.enum(['passed', 'failed', 'skipped']),
  outcome,
  checks: z.array(check),
  timings: z.array(timing),
  transcript: z.array(transcriptEntry),
  timeline: z.array(timelineEntry).default([]),
  evidence: evidenceKind,
  startedAt: z.string(),
  durationMs: z.number(),
  /** Every attempt, oldest first, when the test was retried; `outcome` is then their aggregate (flaky). */
  attempts: z.array(attempt).optional(),
});

export const statsSchema = z.object({
  n: z.number().int().nonnegative(),
  min: z.number(),
  median: z.number(),
  p90: z.number(),
  p95: z.number(),
  max: z.number(),
});

const owned = z.object({ kind: z.string(), id: z.string(), name: z.string(), runId: z.string() });

export const bundleSchema = z.object({
  schemaVersion: z.literal(bundleSchemaVersion),
  runId: z.string().min(1),
  platform: platformName,
  /** False while the run is going and after an interrupt: the verdicts cover only what ran. */
  complete: z.boolean(),
  /** The requirement ids a narrowed run (-r, --skip) was limited to; absent when it ran the whole catalogue. */
  selected: z.array(z.string()).optional(),
  /** A rerun (evaluate --rerun): the earlier run it reran what did not pass of, and that bundle's path. */
  rerunOf: z.object({ runId: z.string(), source: z.string() }).optional(),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  /** dirty: tracked files differed from the commit when the run started. */
  harness: z.object({ version: z.string(), commit: z.string(), dirty: z.boolean().optional() }),
  /** sha256 of the validated lab config, which holds secret references only, never values. */
  configHash: z.string().nullable(),
  /** Facts the suites' worker read from the platform; null when the run ended before it connected. */
  facts: z
    .object({
      info: z.object({
        platform: z.string(),
        product: z.string(),
        version: z.string(),
        apiVersion: z.string().optional(),
        hypervisor: z.string().optional(),
        accel: z.enum(['kvm', 'tcg', 'container', 'simulated']),
        endpoint: z.string(),
      }),
      hosts: z.array(z.looseObject({ id: z.string(), name: z.string() })),
      capabilities: z.looseObject({ evidence: evidenceKind, instanceType: z.enum(['vm', 'container']) }),
    })
    .nullable(),
  requirements: z.record(
    z.string(),
    outcome.extend({
      /** The weakest evidence kind among the tests behind this verdict. */
      evidence: evidenceKind,
      checks: z.array(check.extend({ test: z.string() })),
      tests: z.array(z.string()),
      /** In a rerun's bundle: the earlier run this verdict was carried from unchanged (absent: this run). */
      run: z.string().optional(),
      /** In a rerun's bundle: what earlier runs said of this requirement, oldest first. */
      previous: z.array(earlierVerdict).optional(),
    }),
  ),
  timings: z.object({
    operations: z.record(z.string(), z.object({ accepted: statsSchema, done: statsSchema })),
    phases: z.record(z.string(), statsSchema),
  }),
  timeline: z.record(z.string(), z.array(timelineEntry)),
  /** Owned objects before the run (other runs'), after it (this run's), and what cleanup could not remove. */
  leaks: z.object({ before: z.array(owned), after: z.array(owned), remaining: z.array(owned) }).nullable(),
  tests: z.array(test),
});

export type Bundle = z.infer<typeof bundleSchema>;
export type BundleTest = z.infer<typeof test>;
export type Attempt = z.infer<typeof attempt>;
export type EarlierVerdict = z.infer<typeof earlierVerdict>;
export type TimingRecord = z.input<typeof timing>;
export type TimelineEntry = z.infer<typeof timelineEntry>;
export type Stats = z.infer<typeof statsSchema>;

/** Validates a parsed bundle; the error names the source and every bad field's path. */
export function parseBundle(value: unknown, source: string): Bundle {
  const version = (value as { schemaVersion?: unknown } | null)?.schemaVersion;
  if (typeof version === 'number' && version !== bundleSchemaVersion) {
    throw new ConfigInvalid(
      `${source}: schemaVersion ${version} is not supported (this vmconform reads ${bundleSchemaVersion}; re-run evaluate with this version)`,
    );
  }
  const r = bundleSchema.safeParse(value);
  if (r.success) return r.data;
  const problems = r.error.issues
    .slice(0, 10)
    .map((i) => `${source}: ${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`);
  if (r.error.issues.length > 10) problems.push(`${source}: … and ${r.error.issues.length - 10} more problems`);
  throw new ConfigInvalid(`not a valid vmconform evidence bundle:\n${problems.join('\n')}`);
}

export async function readBundle(file: string): Promise<Bundle> {
  const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new ConfigInvalid(`${file}: cannot read evidence bundle (${e.code ?? e.message})`);
  });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigInvalid(`${file}: not JSON (${(e as Error).message}); an evidence bundle is results.json`);
  }
  return parseBundle(json, file);
}
