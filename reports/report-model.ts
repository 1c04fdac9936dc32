/**
 * What a report shows, built once from bundles (one per platform), assessments and the scoring file,
 * so the HTML, Markdown and JUnit renderers cannot disagree.
 */

import type { Bundle, Stats } from '../evidence/bundle.js';
import { provenKinds } from '../evidence/checks.js';
import { ConfigInvalid } from '../evidence/errors.js';
import type { ProofKind } from '../evidence/verdict.js';
import { proofNeeds } from '../requirements/proof.js';
import { type Requirement, requirements } from '../requirements/registry.js';
import type { Waiver } from '../requirements/waivers.js';
import type { AssessmentFile } from './assessments.js';
import type { Bench } from './bench.js';
import { type Cell, type PlatformScore, type Scoring, type Standing, scorePlatform } from './score.js';

export interface Column {
  platform: string;
  source: string;
  bundle: Bundle;
  score: PlatformScore;
  /** What kind of evidence the run produced: the report labels anything but real VMs. */
  evidenceLabel: 'real VMs' | 'container-only' | 'simulated' | 'unknown';
  /** The bundle's folder checked against its run's manifest; absent when not checked (e.g. in memory). */
  integrity?: Integrity;
}

/**
 * A bundle whose run folder fails verification is reported, loudly marked, not refused: the reader
 * sees what was claimed and that it cannot be trusted. 'unsealed': a run folder without a manifest.
 */
export interface Integrity {
  state: 'intact' | 'failed' | 'unsealed';
  /** What verification found, one line each (vmconform verify's words). */
  lines: string[];
}

export interface Change {
  platform: string;
  id: string;
  from: Cell;
  to: Cell;
  direction: 'regressed' | 'improved' | 'changed';
}

export interface TimingChange {
  platform: string;
  op: string;
  from: number;
  to: number;
}

export interface Comparison {
  platform: string;
  olderRun: string;
  newerRun: string;
  changes: Change[];
  timings: TimingChange[];
  /** Requirements flaky in the newer run (passed only on a retry), changed or not: a pass that cannot be trusted yet. */
  flaky: string[];
}

export interface ReportModel {
  generatedAt: string;
  requirements: readonly Requirement[];
  columns: Column[];
  comparisons: Comparison[];
  bench: Bench | null;
  scoring: Scoring;
}

const rank: Record<Standing, number> = { met: 3, partial: 2, inconclusive: 1, 'not-met': 0 };

function evidenceLabel(b: Bundle): Column['evidenceLabel'] {
  const e = b.facts?.capabilities.evidence;
  if (e === 'real') return 'real VMs';
  return e ?? 'unknown';
}

/** Per requirement, what moved between an older and a newer run of one platform; timings whose median moved by 20% or more. */
export function compare(older: Column, newer: Column): Comparison {
  const changes: Change[] = [];
  for (const r of requirements) {
    const from = older.score.cells[r.id] as Cell;
    const to = newer.score.cells[r.id] as Cell;
    if (from.verdict === to.verdict && from.standing === to.standing) continue;
    const d = rank[to.standing] - rank[from.standing];
    changes.push({
      platform: newer.platform,
      id: r.id,
      from,
      to,
      direction: d < 0 ? 'regressed' : d > 0 ? 'improved' : 'changed',
    });
  }
  const timings: TimingChange[] = [];
  const medians = (b: Bundle) => {
    const m = new Map<string, number>();
    for (const [op, s] of Object.entries(b.timings.operations)) m.set(op, s.done.median);
    for (const [p, s] of Object.entries(b.timings.phases)) m.set(p, s.median);
    return m;
  };
  const a = medians(older.bundle);
  for (const [op, to] of medians(newer.bundle)) {
    const from = a.get(op);
    if (from !== undefined && from > 0 && Math.abs(to - from) / from >= 0.2)
      timings.push({ platform: newer.platform, op, from, to });
  }
  const flaky = requirements.filter((r) => newer.score.cells[r.id]?.verdict === 'flaky').map((r) => r.id);
  return {
    platform: newer.platform,
    olderRun: older.bundle.runId,
    newerRun: newer.bundle.runId,
    changes,
    timings,
    flaky,
  };
}

export function buildModel(opts: {
  bundles: { source: string; bundle: Bundle; integrity?: Integrity }[];
  older?: { source: string; bundle: Bundle }[];
  assessments: (platform: string) => AssessmentFile | null;
  scoring: Scoring;
  bench?: Bench | null;
  now?: Date;
  /** Waivers (--waivers): applied to the newer bundles and the older ones alike, as of `now`. */
  waivers?: readonly Waiver[];
}): ReportModel {
  const column = ({
    source,
    bundle,
    integrity,
  }: {
    source: string;
    bundle: Bundle;
    integrity?: Integrity;
  }): Column => ({
    platform: bundle.platform,
    source,
    bundle,
    score: scorePlatform(bundle.platform, bundle, opts.assessments(bundle.platform), opts.scoring, requirements, {
      list: opts.waivers ?? [],
      today: opts.now ?? new Date(),
    }),
    evidenceLabel: evidenceLabel(bundle),
    ...(integrity ? { integrity } : {}),
  });
  const columns: Column[] = [];
  for (const b of opts.bundles) {
    const same = columns.find((c) => c.platform === b.bundle.platform);
    if (same)
      throw new ConfigInvalid(
        `${b.source}: a second bundle for ${b.bundle.platform} (first: ${same.source}); give one bundle per platform, and an older run with --compare`,
      );
    columns.push(column(b));
  }
  const comparisons: Comparison[] = [];
  for (const o of opts.older ?? []) {
    const newer = columns.find((c) => c.platform === o.bundle.platform);
    if (!newer)
      throw new ConfigInvalid(
        `--compare ${o.source}: it is a ${o.bundle.platform} run, and no newer ${o.bundle.platform} bundle was given`,
      );
    comparisons.push(compare(column(o), newer));
  }
  return {
    generatedAt: (opts.now ?? new Date()).toISOString(),
    requirements,
    columns,
    comparisons,
    bench: opts.bench ?? null,
    scoring: opts.scoring,
  };
}

const directionOrder = { regressed: 0, changed: 1, improved: 2 };
/** Regressions first: what a reader of a comparison needs to see. */
export const byDirection = (changes: Change[]) =>
  [...changes].sort((a, b) => directionOrder[a.direction] - directionOrder[b.direction]);

export const fmtMs = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);
export const statsLine = (s: Stats) =>
  `n=${s.n} min ${fmtMs(s.min)} · median ${fmtMs(s.median)} · p90 ${fmtMs(s.p90)} · p95 ${fmtMs(s.p95)} · max ${fmtMs(s.max)}`;

/**
 * A requirement's proof map on one platform: the kinds its pass needs (the registry), the kinds its
 * passed checks used, and whether a claim the guest could observe was proven by the API alone.
 * `recorded` is false for a bundle written before checks carried their proof kind.
 */
export function proofMap(
  col: Column,
  id: string,
): { needs: readonly ProofKind[]; proven: ProofKind[]; recorded: boolean; apiOnly: boolean } {
  const needs = proofNeeds[id as keyof typeof proofNeeds] ?? [];
  const checks = col.bundle.requirements[id]?.checks ?? [];
  const recorded = checks.some((c) => c.proof !== undefined);
  const proven = recorded ? provenKinds(checks) : [];
  const apiOnly = recorded && needs.includes('guest') && proven.includes('api') && !proven.includes('guest');
  return { needs, proven, recorded, apiOnly };
}
