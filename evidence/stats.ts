/**
 * Order statistics: the one median and percentile definition that LC-07, the bundle's timings, the
 * report and the bench share, so a suite's verdict and the report never disagree on the same samples. Pure.
 */
import type { Stats } from './bundle.js';

/**
 * Nearest-rank percentile (p in 0..100) of a non-empty sample: always a value that was measured
 * (no interpolation between two runs), honest for the small samples a lab run gives; p95 of few is the slowest.
 */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) throw new Error('percentile of no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

/** The nearest-rank 50th percentile: of an even sample, the lower of the two middle values. */
export function median(samples: number[]): number {
  if (samples.length === 0) throw new Error('median of no samples');
  return percentile(samples, 50);
}

export interface Spread {
  n: number;
  min: number;
  median: number;
  p95: number;
  max: number;
  /** p95 / median: 1 is perfectly predictable. */
  ratio: number;
}

export function spread(samples: number[]): Spread {
  const med = median(samples);
  const p95 = percentile(samples, 95);
  return {
    n: samples.length,
    min: Math.min(...samples),
    median: med,
    p95,
    max: Math.max(...samples),
    ratio: med > 0 ? p95 / med : Number.POSITIVE_INFINITY,
  };
}

/** The bundle's and the bench's timing summary, rounded to 0.1 ms; all zeros for no samples. */
export function stats(values: number[]): Stats {
  const r = (x: number) => Math.round(x * 10) / 10;
  if (values.length === 0) return { n: 0, min: 0, median: 0, p90: 0, p95: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const q = (p: number) => r(percentile(sorted, p));
  return {
    n: sorted.length,
    min: r(sorted[0] as number),
    median: q(50),
    p90: q(90),
    p95: q(95),
    max: r(sorted.at(-1) as number),
  };
}
