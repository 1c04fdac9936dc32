import { describe, expect, it } from 'vitest';
import { type QuietGate, schedule } from './schedule.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A fake platform run: a concurrent phase of `main` ms, then (with a gate) a quiet phase of `quiet` ms. */
function fakeRuns(times: Record<string, { main: number; quiet?: number; fail?: boolean }>) {
  const events: string[] = [];
  let running = 0;
  let quietOverlap = false;
  const one = async (p: string, gate: QuietGate | undefined) => {
    const t = times[p] ?? { main: 1 };
    events.push(`${p} main start`);
    running += 1;
    await tick(t.main);
    running -= 1;
    events.push(`${p} main end`);
    if (t.fail) throw new Error(`${p} broke`);
    if (t.quiet === undefined) return;
    if (gate && !(await gate.enter())) return;
    try {
      if (running > 0) quietOverlap = true;
      running += 1;
      events.push(`${p} quiet start`);
      await tick(t.quiet);
      events.push(`${p} quiet end`);
      running -= 1;
    } finally {
      gate?.release();
    }
  };
  return { events, one, overlap: () => quietOverlap };
}

describe('schedule', () => {
  it('concurrent: every concurrent phase starts at once; quiet phases after all of them, one at a time', async () => {
    const f = fakeRuns({ libvirt: { main: 40, quiet: 10 }, incus: { main: 5, quiet: 10 }, proxmox: { main: 20 } });
    await schedule(['libvirt', 'incus', 'proxmox'], 'concurrent', f.one);
    const at = (e: string) => f.events.indexOf(e);
    expect(f.events.slice(0, 3).every((e) => e.endsWith('main start'))).toBe(true);
    const quietStarts = f.events.filter((e) => e.endsWith('quiet start')).map(at);
    const lastMainEnd = Math.max(...f.events.filter((e) => e.endsWith('main end')).map(at));
    expect(Math.min(...quietStarts)).toBeGreaterThan(lastMainEnd);
    expect(f.overlap()).toBe(false);
    // Each window ends before the next begins.
    const quiet = f.events.filter((e) => e.includes('quiet'));
    expect(quiet).toHaveLength(4);
    expect(quiet[0]?.split(' ')[0]).toBe(quiet[1]?.split(' ')[0]);
    expect(quiet[2]?.split(' ')[0]).toBe(quiet[3]?.split(' ')[0]);
  });

  it('serial: one platform after another, each in its own single pass', async () => {
    const f = fakeRuns({ a: { main: 5, quiet: 1 }, b: { main: 1, quiet: 1 } });
    await schedule(['a', 'b'], 'serial', f.one);
    expect(f.events).toEqual([
      'a main start',
      'a main end',
      'a quiet start',
      'a quiet end',
      'b main start',
      'b main end',
      'b quiet start',
      'b quiet end',
    ]);
  });

  it('a platform that fails before its quiet phase does not hold the window; its error is thrown at the end', async () => {
    const f = fakeRuns({ a: { main: 5, quiet: 5 }, b: { main: 20, fail: true } });
    await expect(schedule(['a', 'b'], 'concurrent', f.one)).rejects.toThrow('b broke');
    expect(f.events).toContain('a quiet end');
    expect(f.events.indexOf('a quiet start')).toBeGreaterThan(f.events.indexOf('b main end'));
  });

  it('stopping: no quiet phase starts, and serially no further platform', async () => {
    const f = fakeRuns({ a: { main: 1, quiet: 1 }, b: { main: 1, quiet: 1 } });
    await schedule(['a', 'b'], 'concurrent', f.one, () => true);
    expect(f.events.filter((e) => e.includes('quiet'))).toEqual([]);
    const g = fakeRuns({ a: { main: 1 }, b: { main: 1 } });
    let stop = false;
    await schedule(
      ['a', 'b'],
      'serial',
      async (p, gate) => {
        await g.one(p, gate);
        stop = true;
      },
      () => stop,
    );
    expect(g.events).toEqual(['a main start', 'a main end']);
  });
});
