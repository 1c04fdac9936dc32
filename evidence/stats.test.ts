import { describe, expect, it } from 'vitest';
import { median, percentile, spread } from './stats.js';

describe('stats', () => {
  it('takes the nearest-rank percentile', () => {
    const xs = [5, 1, 4, 2, 3, 6, 7, 8, 9, 10];
    expect(percentile(xs, 50)).toBe(5);
    expect(percentile(xs, 90)).toBe(9);
    expect(percentile(xs, 95)).toBe(10);
    expect(percentile([3], 95)).toBe(3);
  });

  it('takes the median of odd and even samples', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('reports the p95/median ratio', () => {
    expect(spread([10, 10, 10, 10, 30])).toEqual({ n: 5, min: 10, median: 10, p95: 30, max: 30, ratio: 3 });
    expect(spread([0, 0, 1]).ratio).toBe(Number.POSITIVE_INFINITY);
  });

  it('refuses an empty sample', () => {
    expect(() => median([])).toThrow('median of no samples');
    expect(() => percentile([], 95)).toThrow('percentile of no samples');
  });
});
