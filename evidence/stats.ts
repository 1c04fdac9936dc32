/** Order statistics for the predictability suite (LC-07). Pure. */

/** Nearest-rank percentile (p in 0..100) of a non-empty sample: with few samples p95 is the slowest. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) throw new Error('percentile of no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

export function median(samples: number[]): number {
  if (samples.length === 0) throw new Error('median of no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
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
