/**
 * The ADR's gate: per platform and dimension acceptable / not acceptable / inconclusive, from the
 * bundle's verdicts, the manual assessments and reports/scoring.yaml (rules documented there).
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { Bundle, EvidenceKind } from '../evidence/bundle.js';
import { ConfigInvalid } from '../evidence/errors.js';
import { historyText } from '../evidence/rerun.js';
import type { Verdict } from '../evidence/verdict.js';
import { parseYamlFile } from '../evidence/yaml-file.js';
import { type Dimension, dimensions, type Requirement, requirements } from '../requirements/registry.js';
import { type Waiver, waiverFor, waiverText } from '../requirements/waivers.js';
import type { Assessment, AssessmentFile } from './assessments.js';

const pointKeys = ['pass', 'manual-met', 'partial', 'manual-partial', 'fail', 'unsupported', 'manual-not-met'] as const;
type PointKey = (typeof pointKeys)[number];
const share = z.number().min(0).max(1);

const scoringSchema = z.strictObject({
  threshold: share.default(0.7),
  thresholds: z.partialRecord(z.enum(dimensions.map((d) => d.id) as [Dimension, ...Dimension[]]), share).default({}),
  points: z
    .strictObject(
      Object.fromEntries(pointKeys.map((k) => [k, share.optional()])) as Record<PointKey, z.ZodOptional<typeof share>>,
    )
    .default({}),
  defaultWeight: z.number().nonnegative().default(1),
  weights: z.record(z.string(), z.number().nonnegative()).default({}),
});

export interface Scoring {
  threshold: number;
  /** Per-dimension overrides of `threshold`. */
  thresholds: Partial<Record<Dimension, number>>;
  points: Record<PointKey, number>;
  defaultWeight: number;
  weights: Record<string, number>;
}

const defaultPoints: Record<PointKey, number> = {
  pass: 1,
  'manual-met': 1,
  partial: 0.5,
  'manual-partial': 0.5,
  fail: 0,
  unsupported: 0,
  'manual-not-met': 0,
};

export const defaultScoringFile = fileURLToPath(new URL('./scoring.yaml', import.meta.url));

export function parseScoring(text: string, file: string): Scoring {
  const s = parseYamlFile(scoringSchema, text, file);
  const should = new Set(requirements.filter((r) => r.level === 'SHOULD').map((r) => r.id));
  const unknown = Object.keys(s.weights).filter((id) => !should.has(id));
  if (unknown.length > 0)
    throw new ConfigInvalid(
      `${file}: weights: ${unknown.join(', ')} ${unknown.length > 1 ? 'are not SHOULD requirements' : 'is not a SHOULD requirement'} (only SHOULDs are weighted; MUSTs gate)`,
    );
  return {
    threshold: s.threshold,
    thresholds: s.thresholds,
    points: {
      ...defaultPoints,
      ...(Object.fromEntries(Object.entries(s.points).filter(([, v]) => v !== undefined)) as Partial<
        Record<PointKey, number>
      >),
    },
    defaultWeight: s.defaultWeight,
    weights: s.weights,
  };
}

export async function loadScoring(file = defaultScoringFile): Promise<Scoring> {
  return parseScoring(await readFile(file, 'utf8'), file);
}

/** How a requirement's evidence counts: met, not met, partly met, or no conclusion. */
export type Standing = 'met' | 'not-met' | 'partial' | 'inconclusive';

export interface Cell {
  id: string;
  verdict: Verdict;
  standing: Standing;
  reasonCode?: string;
  reason?: string;
  /** Where the verdict came from. */
  source: 'run' | 'assessment' | 'none';
  /** The run's evidence kind, when the verdict came from a run. */
  evidence?: EvidenceKind;
  assessment?: Assessment;
  pointKey?: PointKey;
  /** In a rerun's bundle: "fail in run A → pass in run B", or the earlier run a verdict was carried from. */
  history?: string;
  /** A waiver written for this non-pass (--waivers): active, the cell shows waived; expired, it says so. */
  waiver?: Waiver & { expired: boolean; text: string };
}

/** An active waiver: the cell shows `waived` and counts apart (inconclusive, never a pass). */
export const isWaived = (c: Cell) => !!c.waiver && !c.waiver.expired;

export type Gate = 'acceptable' | 'not acceptable' | 'inconclusive';

export interface DimensionScore {
  dimension: Dimension;
  title: string;
  gate: Gate;
  /** Sentences that explain the gate: every MUST that decided it, and the SHOULD score. */
  reasons: string[];
  should: { min: number; max: number; threshold: number; weight: number };
}

export interface PlatformScore {
  platform: string;
  gate: Gate;
  dimensions: DimensionScore[];
  cells: Record<string, Cell>;
}

const conclusive = new Set<Verdict>(['pass', 'fail', 'unsupported', 'partial']);

function fromAssessment(r: Requirement, a: Assessment, platform: string): Cell {
  const base = { id: r.id, verdict: 'manual' as const, source: 'assessment' as const, assessment: a };
  if (a.status === 'draft')
    return {
      ...base,
      standing: 'inconclusive',
      reasonCode: 'assessment-draft',
      reason: `Draft assessment by ${a.assessor} (${a.date}) says ${a.verdict}; it counts only once Dataverket signs it (status: signed in reports/assessments/${platform}.yaml).`,
    };
  const standing: Standing = a.verdict;
  return {
    ...base,
    standing,
    pointKey: `manual-${a.verdict}`,
    ...(a.verdict === 'met'
      ? {}
      : { reasonCode: `assessed-${a.verdict}`, reason: `Signed by ${a.signedBy} (${a.date}): ${a.summary}` }),
  };
}

function fromRun(r: Requirement, v: Bundle['requirements'][string], runId: string): Cell {
  const history = historyText(v, runId);
  const base = {
    id: r.id,
    verdict: v.verdict,
    source: 'run' as const,
    evidence: v.evidence,
    reasonCode: v.reasonCode,
    reason: v.reason,
    ...(history ? { history } : {}),
  };
  // Containers and simulators prove the adapter, not that the platform does this for VMs.
  if (v.evidence !== 'real' && conclusive.has(v.verdict))
    return {
      ...base,
      standing: 'inconclusive',
      reasonCode: `${v.evidence}-evidence`,
      reason: `${v.verdict} on ${v.evidence} evidence: proves the adapter and API path, not the platform's VMs.${v.reason ? ` ${v.reason}` : ''}`,
    };
  switch (v.verdict) {
    case 'pass':
      return { ...base, standing: 'met', pointKey: 'pass' };
    case 'fail':
    case 'unsupported':
      return { ...base, standing: 'not-met', pointKey: v.verdict };
    case 'partial':
      return { ...base, standing: 'partial', pointKey: 'partial' };
    default:
      return { ...base, standing: 'inconclusive' };
  }
}

/** Why a requirement has no evidence: a harness gap (no test yet) or a run that did not reach it. */
function notRun(r: Requirement, bundle: Bundle | null): { reasonCode: string; reason: string } {
  if (!bundle) return { reasonCode: 'no-bundle', reason: 'No evidence bundle for this platform.' };
  if (bundle.selected && !bundle.selected.includes(r.id))
    return {
      reasonCode: 'not-selected',
      reason: `Not selected in ${bundle.runId} (narrowed with -r/--skip): this run gives no evidence for it.`,
    };
  if (r.suite === null || bundle.tests.some((t) => t.file === r.suite))
    return {
      reasonCode: 'no-test',
      reason: `No test produces evidence for ${r.id} yet${r.suite ? ` (${r.suite} ran but has none)` : ''}: a harness gap, not a platform result.`,
    };
  return {
    reasonCode: 'not-run',
    reason: `Not run in ${bundle.runId} (${r.suite} did not run: filtered out with -r, or the run ended before it).`,
  };
}

/** One requirement's cell: a conclusive run verdict wins; otherwise an assessment; otherwise what is missing. */
export function cellFor(
  r: Requirement,
  bundle: Bundle | null,
  assessments: AssessmentFile | null,
  platform: string,
): Cell {
  const v = bundle?.requirements[r.id];
  const a = assessments?.assessments[r.id];
  if (v && bundle && conclusive.has(v.verdict) && v.evidence === 'real') return fromRun(r, v, bundle.runId);
  if (a) return fromAssessment(r, a, platform);
  if (v && bundle) return fromRun(r, v, bundle.runId);
  if (r.manual)
    return {
      id: r.id,
      verdict: 'manual',
      standing: 'inconclusive',
      source: 'none',
      reasonCode: 'no-assessment',
      reason: `No assessment for ${r.id} in reports/assessments/${platform}.yaml.`,
    };
  return {
    id: r.id,
    verdict: 'not-implemented',
    standing: 'inconclusive',
    source: 'none',
    ...notRun(r, bundle),
  };
}

/**
 * A run's non-pass with a waiver: waived while the waiver lasts (inconclusive for the gate: accepted risk
 * is neither a pass nor a failure), and after its expiry date the verdict as it is, saying the waiver expired.
 */
function waive(
  cell: Cell,
  bundle: Bundle | null,
  platform: string,
  waivers: { list: readonly Waiver[]; today: Date },
): Cell {
  const v = bundle?.requirements[cell.id];
  if (!v || cell.source !== 'run') return cell;
  const w = waiverFor(waivers.list, platform, [cell.id], v, waivers.today);
  if (!w) return cell;
  const waiver = { ...w.waiver, expired: w.expired, text: waiverText(w.waiver, waivers.today) };
  if (w.expired) return { ...cell, waiver, reason: `${cell.reason ?? ''} (${waiver.text})`.trim() };
  const { pointKey: _none, ...rest } = cell;
  return { ...rest, waiver, standing: 'inconclusive' };
}

const pct = (x: number) => `${Math.round(x * 100)}%`;

export function scoreDimension(
  dimension: (typeof dimensions)[number],
  cells: Cell[],
  registry: readonly Requirement[],
  scoring: Scoring,
): DimensionScore {
  const level = new Map(registry.map((r) => [r.id, r.level]));
  const musts = cells.filter((c) => level.get(c.id) === 'MUST');
  const shoulds = cells.filter((c) => level.get(c.id) === 'SHOULD');
  const reasons: string[] = [];
  const failedMusts = musts.filter((c) => c.standing === 'not-met' || c.standing === 'partial');
  const openMusts = musts.filter((c) => c.standing === 'inconclusive');
  for (const c of failedMusts)
    reasons.push(`MUST ${c.id} ${c.standing === 'partial' ? 'only partly met' : c.verdict}: ${c.reason ?? ''}`.trim());
  for (const c of openMusts)
    reasons.push(
      `MUST ${c.id} inconclusive (${isWaived(c) ? `waived ${c.verdict}` : c.verdict}${c.reasonCode ? `, ${c.reasonCode}` : ''})`,
    );
  let weight = 0;
  let lo = 0;
  let hi = 0;
  for (const c of shoulds) {
    const w = scoring.weights[c.id] ?? scoring.defaultWeight;
    weight += w;
    if (c.standing === 'inconclusive') hi += w;
    else {
      const p = c.pointKey ? scoring.points[c.pointKey] : 0;
      lo += w * p;
      hi += w * p;
    }
  }
  const min = weight === 0 ? 1 : lo / weight;
  const max = weight === 0 ? 1 : hi / weight;
  const threshold = scoring.thresholds[dimension.id] ?? scoring.threshold;
  const should = { min, max, threshold, weight };
  const openShoulds = shoulds.filter((c) => c.standing === 'inconclusive').length;
  if (weight > 0)
    reasons.push(
      min === max
        ? `SHOULD score ${pct(min)} (threshold ${pct(threshold)})`
        : `SHOULD score between ${pct(min)} and ${pct(max)} while ${openShoulds} inconclusive SHOULD${openShoulds === 1 ? '' : 's'} could go either way (threshold ${pct(threshold)})`,
    );
  const gate: Gate =
    failedMusts.length > 0 || max < threshold
      ? 'not acceptable'
      : openMusts.length > 0 || min < threshold
        ? 'inconclusive'
        : 'acceptable';
  return { dimension: dimension.id, title: dimension.title, gate, reasons, should };
}

/** Scores one platform: every registry requirement gets a cell, every dimension a gate. */
export function scorePlatform(
  platform: string,
  bundle: Bundle | null,
  assessments: AssessmentFile | null,
  scoring: Scoring,
  registry: readonly Requirement[] = requirements,
  waivers: { list: readonly Waiver[]; today: Date } = { list: [], today: new Date() },
): PlatformScore {
  const cells: Record<string, Cell> = {};
  for (const r of registry) cells[r.id] = waive(cellFor(r, bundle, assessments, platform), bundle, platform, waivers);
  const dims = dimensions.map((d) =>
    scoreDimension(
      d,
      registry.filter((r) => r.dimension === d.id).map((r) => cells[r.id] as Cell),
      registry,
      scoring,
    ),
  );
  const gate: Gate = dims.some((d) => d.gate === 'not acceptable')
    ? 'not acceptable'
    : dims.every((d) => d.gate === 'acceptable')
      ? 'acceptable'
      : 'inconclusive';
  return { platform, gate, dimensions: dims, cells };
}
