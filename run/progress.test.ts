import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lastTimings, Progress, perRequirement } from './progress.js';

const bundle = (tests: [string[], number][]) =>
  JSON.stringify({ tests: tests.map(([requirements, durationMs]) => ({ requirements, durationMs })) });

describe('progress', () => {
  it('counts requirements per platform and estimates the time left from earlier timings', () => {
    const p = new Progress({
      platform: 'incus',
      ids: ['LC-01', 'LC-02', 'LC-07'],
      done: ['LC-01'],
      estimate: { ms: { 'LC-02': 30_000, 'LC-07': 120_000 }, source: 'last run x' },
    });
    expect(p.line(['LC-02'], 'PASS LC-02')).toBe('incus 2/3 PASS LC-02 [~2 min left]');
    expect(p.line(['LC-07'], 'PASS LC-07')).toBe('incus 3/3 PASS LC-07 [done]');
    const q = new Progress({ platform: 'proxmox', ids: ['LC-01', 'LC-02'], done: [] });
    expect(q.line(['LC-01'], 'SIM LC-01')).toBe('proxmox 1/2 SIM LC-01 [no estimate]');
    const r = new Progress({
      platform: 'libvirt',
      ids: ['A', 'B', 'C'],
      done: [],
      estimate: { ms: { C: 5_000 }, source: 's' },
    });
    expect(r.line(['A'], 'x')).toBe('libvirt 1/3 x [~5 s left (+1 not timed before)]');
  });

  it("shares a test's time among its requirements", () => {
    expect(
      perRequirement(
        JSON.parse(
          bundle([
            [['A', 'B'], 10],
            [['A'], 4],
          ]),
        ),
      ),
    ).toEqual({ A: 9, B: 5 });
  });

  it("takes the newest earlier run's bundle, else the newest bench's, else none", async () => {
    const root = await mkdtemp(join(tmpdir(), 'vmc-progress-'));
    const out = join(root, 'out');
    const bench = join(root, 'bench');
    expect(await lastTimings(out, bench, 'incus', 'now')).toBeUndefined();
    const put = async (dir: string, tests: [string[], number][]) => {
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'results.json'), bundle(tests));
    };
    await put(join(bench, 'b1', 'suites', 'solo', 'incus', 'r0', 'incus'), [[['LC-01'], 7]]);
    expect(await lastTimings(out, bench, 'incus', 'now')).toEqual({ ms: { 'LC-01': 7 }, source: 'bench b1' });
    await put(join(out, 'r1', 'incus'), [[['LC-01'], 1]]);
    await put(join(out, 'r2', 'incus'), [[['LC-01'], 2]]);
    await put(join(out, 'now', 'incus'), [[['LC-01'], 3]]);
    expect(await lastTimings(out, bench, 'incus', 'now')).toEqual({ ms: { 'LC-01': 2 }, source: 'last run r2' });
    // A requirement the newest run did not run takes its figure from an older one.
    await put(join(out, 'r1', 'incus'), [
      [['LC-01'], 1],
      [['LC-07'], 9],
    ]);
    expect(await lastTimings(out, bench, 'incus', 'now')).toEqual({
      ms: { 'LC-01': 2, 'LC-07': 9 },
      source: 'last 2 runs (newest r2)',
    });
  });
});
