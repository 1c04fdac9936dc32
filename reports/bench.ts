/**
 * bench.json: what `npm run bench` writes and `vmconform report --bench` reads. Validated on write and
 * on read, so a report never renders a half-understood benchmark.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { evidenceKind, platformName, statsSchema } from '../evidence/bundle.js';
import { ConfigInvalid } from '../evidence/errors.js';

export const benchSchemaId = 'vmconform.bench/v2';

/** Readiness phases, each in ms from the start of its own call (create or start), in the order they happen. */
export const benchPhases = [
  'createAccepted',
  'createDone',
  'startAccepted',
  'startDone',
  'running',
  'guestReady',
  'stop',
  'delete',
] as const;
export type BenchPhase = (typeof benchPhases)[number];

/** What the machine did during a measured window. CPU figures are CPU-seconds; divide by wall × cores for a share. */
export const usageSchema = z.object({
  wallS: z.number(),
  cores: z.number().int().positive(),
  /** Share of all cores that was busy (not idle, not iowait), 0-100. */
  cpuBusyPct: z.number(),
  /** Share of all cores idle while waiting on disk, 0-100. */
  iowaitPct: z.number(),
  diskReadMiB: z.number(),
  diskWriteMiB: z.number(),
  /**
   * CPU-seconds per process group: `harness` (the bench and its children) or `harness:<platform>` (one evaluate
   * run's tree), `daemon` (platform daemons, simulators, container monitors), `guests` (QEMU, container payloads),
   * `other` (busy CPU no group accounts for: other work, the kernel, processes born and gone between samples).
   */
  cpuS: z.record(z.string(), z.number()),
  loadAvg1: z.number(),
});
export type Usage = z.infer<typeof usageSchema>;

/** A group's CPU-seconds as a percentage of the whole machine (all cores) over the window. */
export const machineShare = (u: Usage, group: string): number =>
  ((u.cpuS[group] ?? 0) / Math.max(0.001, u.wallS * u.cores)) * 100;

export const limitKinds = ['cpu', 'disk', 'daemon', 'serialised', 'none'] as const;
export const limitSchema = z.object({ kind: z.enum(limitKinds), why: z.string() });
export type Limit = z.infer<typeof limitSchema>;

const scaleStep = z.object({
  vms: z.number().int().positive(),
  wallMs: z.number(),
  perVm: statsSchema,
  createAccepted: statsSchema,
  guestReady: statsSchema,
  usage: usageSchema,
  limit: limitSchema,
});
export type ScaleStep = z.infer<typeof scaleStep>;

const overhead = z.object({
  /** What the direct sequence is, e.g. 'plain virsh' or 'raw REST'. */
  direct: z.string(),
  directMs: statsSchema,
  vmconformMs: statsSchema,
  ratioOfMedians: z.number(),
  /** Per-repetition ratio vmconform / direct (interleaved pairs). */
  ratio: z.object({ min: z.number(), median: z.number(), max: z.number() }),
  /**
   * Mean platform calls per lifecycle by kind (virsh subcommand, HTTP method and path): through the harness,
   * directly (when the direct sequence records its calls), and the kinds the harness makes more of.
   */
  calls: z
    .object({
      harness: z.record(z.string(), z.number()),
      harnessTotal: z.number(),
      direct: z.record(z.string(), z.number()).optional(),
      directTotal: z.number().optional(),
      added: z.record(z.string(), z.number()).optional(),
    })
    .optional(),
});

export const benchPlatformSchema = z.object({
  evidence: evidenceKind,
  accel: z.enum(['kvm', 'tcg', 'container', 'simulated']),
  accelReason: z.string().optional(),
  product: z.string(),
  instanceType: z.enum(['vm', 'container']),
  /** Absent with the reason in overheadNote when there is no direct sequence to compare with. */
  overhead: overhead.optional(),
  overheadNote: z.string().optional(),
  phases: z.partialRecord(z.enum(benchPhases), statsSchema),
  scale: z.array(scaleStep),
  /** The part of this platform's bench that failed, if any; the figures before it are kept. */
  error: z.string().optional(),
});
export type BenchPlatform = z.infer<typeof benchPlatformSchema>;

/** Guest boots (start and reboot calls in the bundle's transcript) in all and per suite file, most first. */
const bootsSchema = z.object({ total: z.number().int(), byFile: z.record(z.string(), z.number().int()) });
export type Boots = z.infer<typeof bootsSchema>;

export const suiteRunSchema = z.object({
  /** Time to verdict: the platform's evaluate alone (solo), or from the start of the evaluation of all at once. */
  wallS: z.number(),
  /** User + system CPU of the evaluate process and everything it waited for (vitest workers, virsh, ssh); solo only. */
  cpuS: z.number().optional(),
  /** Peak of the summed RSS of the evaluate process tree, sampled every 250 ms; solo only. */
  peakRssMiB: z.number().optional(),
  exitCode: z.number().int(),
  evidence: evidenceKind.nullable(),
  counts: z.object({ passed: z.number().int(), failed: z.number().int(), skipped: z.number().int() }),
  /** Seconds inside platform calls (the bundle's transcript), against the tests' total. */
  apiS: z.number(),
  testsS: z.number(),
  /** The slowest suite files, slowest first. */
  slowest: z.array(z.object({ file: z.string(), seconds: z.number(), tests: z.number().int() })),
  boots: bootsSchema.optional(),
  bundle: z.string().nullable(),
  error: z.string().optional(),
});
export type SuiteRun = z.infer<typeof suiteRunSchema>;

const suiteSet = z.object({
  wallS: z.number(),
  usage: usageSchema,
  runs: z.record(platformName, suiteRunSchema),
  /** All platforms in one evaluate: that process tree's CPU, peak RSS and exit code. */
  evaluate: z.object({ cpuS: z.number(), peakRssMiB: z.number(), exitCode: z.number().int() }).optional(),
});
export type SuiteSet = z.infer<typeof suiteSet>;

/** The bring-up each lab recorded (lab status) and the labs each platform needs: time to verdict with lab up. */
const labUpSchema = z.object({
  labs: z.record(z.string(), z.object({ seconds: z.number(), cold: z.boolean() })),
  platforms: z.record(platformName, z.array(z.string())),
});
export type LabUp = z.infer<typeof labUpSchema>;

/**
 * An earlier bench (`npm run bench -- --baseline <bench.json>`): its guest boots per platform, from its solo
 * runs where it had them (else its run of all at once, as `from` says), shown beside this bench's as before.
 */
const baselineSchema = z.object({
  path: z.string(),
  runId: z.string(),
  at: z.string(),
  harnessCommit: z.string(),
  boots: z.record(platformName, bootsSchema.extend({ from: z.enum(['solo', 'parallel']) })),
});
export type BenchBaseline = z.infer<typeof baselineSchema>;

export const benchSchema = z.object({
  schema: z.literal(benchSchemaId),
  runId: z.string(),
  at: z.string(),
  /** False when the bench was interrupted or a part failed: the figures cover what ran. */
  complete: z.boolean(),
  /** Why the bench stopped early (an interrupt and the part it was in, or the error that ended it). */
  stoppedBy: z.string().optional(),
  durationS: z.number(),
  machine: z.object({
    cores: z.number().int().positive(),
    cpuModel: z.string(),
    memGiB: z.number(),
    kernel: z.string(),
    node: z.string(),
    harnessCommit: z.string(),
  }),
  settings: z.object({
    reps: z.number().int().positive(),
    scales: z.array(z.number().int().positive()),
    suites: z.enum(['parallel', 'solo', 'both', 'none']),
  }),
  platforms: z.record(platformName, benchPlatformSchema),
  suites: z.object({
    parallel: suiteSet.optional(),
    solo: suiteSet.optional(),
    labUp: labUpSchema.optional(),
  }),
  baseline: baselineSchema.optional(),
});
export type Bench = z.infer<typeof benchSchema>;

/** Validates a parsed bench.json; the error names the source and every bad field's path. */
export function parseBench(value: unknown, source: string): Bench {
  const r = benchSchema.safeParse(value);
  if (r.success) return r.data;
  const problems = r.error.issues
    .slice(0, 10)
    .map((i) => `${source}: ${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`);
  throw new ConfigInvalid(
    `not a bench.json from npm run bench (${benchSchemaId}; re-run npm run bench with this version):\n${problems.join('\n')}`,
  );
}

/** `flag` names the option the file came from in the error (`--bench` of report, `--baseline` of the bench). */
export async function readBench(file: string, flag = '--bench'): Promise<Bench> {
  const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new ConfigInvalid(`${flag} ${file}: cannot read (${e.code ?? e.message})`);
  });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigInvalid(`${flag} ${file}: not JSON (${(e as Error).message})`);
  }
  return parseBench(json, file);
}

/** What a later bench keeps of this one as its baseline: who it was and the guest boots of its suite runs. */
export function baselineOf(earlier: Bench, path: string): BenchBaseline {
  const boots: BenchBaseline['boots'] = {};
  // A run that failed counted the boots of the tests it reached only; solo is read last and wins.
  for (const from of ['parallel', 'solo'] as const)
    for (const [p, r] of Object.entries(earlier.suites[from]?.runs ?? {}))
      if (r.boots && !r.error) boots[p] = { ...r.boots, from };
  return {
    path,
    runId: earlier.runId,
    at: earlier.at,
    harnessCommit: earlier.machine.harnessCommit,
    boots,
  };
}
