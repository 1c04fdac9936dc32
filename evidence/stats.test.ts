import { describe, expect, it } from 'vitest';
import { median, percentile, spread, stats } from './stats.js';

describe('stats', () => {
  it('takes the nearest-rank percentile', () => {
    const xs = [5, 1, 4, 2, 3, 6, 7, 8, 9, 10];
    expect(percentile(xs, 50)).toBe(5);
    expect(percentile(xs, 90)).toBe(9);
    expect(percentile(xs, 95)).toBe(10);
    expect(percentile([3], 95)).toBe(3);
  });

  it('takes the nearest-rank median: a measured value, the lower middle of an even sample', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2);
  });

  it("gives LC-07's spread and the report's timing summary the same median and p95 on an even sample", () => {
    const xs = [120, 80, 100, 400, 90, 110];
    const suite = spread(xs);
    const report = stats(xs);
    expect([suite.median, suite.p95]).toEqual([100, 400]);
    expect([report.median, report.p95]).toEqual([suite.median, suite.p95]);
    expect(report).toEqual({ n: 6, min: 80, median: 100, p90: 400, p95: 400, max: 400 });
  });

  it('summarises no samples as zeros (a bundle may have an op with none)', () => {
    expect(stats([])).toEqual({ n: 0, min: 0, median: 0, p90: 0, p95: 0, max: 0 });
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
