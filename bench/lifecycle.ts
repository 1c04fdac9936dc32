/** What every platform's bench shares: one lifecycle through the driver contract, timed by phase. */
import { directPoll, type Target, type VmRef } from '../adapters/contract/index.js';
import type { Stats } from '../evidence/bundle.js';
import { stats } from '../evidence/stats.js';
import { boots } from '../host/guest/report.js';
import { waitFor } from '../host/wait.js';
import type { BenchPhase } from '../reports/bench.js';

/** The same fixed 100 ms interval for the direct scripts and the harness, so polling favours neither. */
export const benchPoll = directPoll;

export type Phases = Record<BenchPhase, number> & { total: number };

/**
 * create, start, platform reports running, guest READY, graceful stop, delete of one small VM through the
 * harness. Every phase is in ms from the start of its own call; running and guestReady from the start call.
 */
export async function throughHarness(t: Target, name: string): Promise<Phases> {
  const t0 = performance.now();
  const c = await t.driver.create({
    name,
    vcpus: 1,
    memoryMiB: 256,
    image: t.lab.image,
    disks: [],
    nics: [{ network: t.lab.network }],
    metadata: {},
  });
  const vm: VmRef = c.result;
  const s0 = performance.now();
  const s = await t.driver.start(vm);
  // A platform may finish the start task before it reports the VM running (or the other way round).
  await waitFor('platform reports running', benchPoll, async () =>
    (await t.driver.inspect(vm)).power === 'running' ? true : undefined,
  );
  const running = performance.now() - s0;
  const probe = t.driver.guest(vm);
  await waitFor('guest READY', benchPoll, async () => (boots(await probe.read()).length > 0 ? true : undefined));
  const guestReady = performance.now() - s0;
  const st = await t.driver.stop(vm, { force: false });
  const d = await t.driver.delete(vm);
  return {
    total: performance.now() - t0,
    createAccepted: c.acceptedMs,
    createDone: c.doneMs,
    startAccepted: s.acceptedMs,
    startDone: s.doneMs,
    running,
    guestReady,
    stop: st.doneMs,
    delete: d.doneMs,
  };
}

/** The same lifecycle done directly and through the harness, interleaved so warm caches favour neither. */
export async function interleaved(
  reps: number,
  names: (kind: 'd' | 'h', i: number) => string,
  direct: ((name: string) => Promise<number>) | undefined,
  harness: (name: string) => Promise<Phases>,
  say: (m: string) => void,
): Promise<{ directMs: number[]; harness: Phases[] }> {
  const directMs: number[] = [];
  const out: Phases[] = [];
  for (let i = 0; i < reps; i++) {
    const order = i % 2 === 0 ? (['d', 'h'] as const) : (['h', 'd'] as const);
    for (const which of order) {
      if (which === 'h') out.push(await harness(names('h', i)));
      else if (direct) directMs.push(await direct(names('d', i)));
    }
    say(
      `rep ${i + 1}/${reps}: ${direct ? `direct ${(directMs.at(-1) ?? 0).toFixed(0)} ms, ` : ''}vmconform ${(out.at(-1)?.total ?? 0).toFixed(0)} ms (guest ready ${(out.at(-1)?.guestReady ?? 0).toFixed(0)} ms after start)`,
    );
  }
  return { directMs, harness: out };
}

/** Stats per phase over the harness repetitions. */
export function phaseStats(runs: Phases[], names: readonly BenchPhase[]): Partial<Record<BenchPhase, Stats>> {
  return Object.fromEntries(names.map((p) => [p, stats(runs.map((h) => h[p]))]));
}

/** Ratio of medians and the per-pair ratio spread; three decimals (stats() rounds to 0.1, so scale up and back). */
export function overheadOf(directMs: number[], harnessMs: number[]) {
  const ratios = harnessMs.map((h, i) => (h / (directMs[i] ?? Number.NaN)) * 1000);
  const r = stats(ratios);
  return {
    directMs: stats(directMs),
    vmconformMs: stats(harnessMs),
    ratioOfMedians: Math.round((stats(harnessMs).median / stats(directMs).median) * 1000) / 1000,
    ratio: { min: r.min / 1000, median: r.median / 1000, max: r.max / 1000 },
  };
}

/** A platform call by what it does: the virsh subcommand, or the HTTP method and path with names and ids left out. */
export function callKind(request: string): string {
  const virsh = /^virsh -c \S+ (\S+)/.exec(request);
  if (virsh) return `virsh ${virsh[1]}`;
  const [method = '', url = ''] = request.split(' ', 2);
  const path = (url.split('?')[0] ?? '')
    .split('/')
    .map((seg) => (/^(vmc-|\d+$|[0-9a-f]{8}-)/.test(seg) ? '<id>' : seg))
    .join('/');
  const action = /^\{"action":"(\w+)"/.exec(request.slice(method.length + url.length + 2))?.[1];
  return `${method} ${path}${action ? ` (${action})` : ''}`;
}

/**
 * Mean calls per lifecycle by kind, through the harness and directly (when the direct sequence records its
 * calls), and the kinds the harness makes more of: what it adds over the direct sequence.
 */
export function callsPerLifecycle(harness: string[][], direct: string[][]) {
  const mean = (runs: string[][]) => {
    const n: Record<string, number> = {};
    for (const run of runs) for (const r of run) n[callKind(r)] = (n[callKind(r)] ?? 0) + 1;
    return Object.fromEntries(
      Object.entries(n)
        .map(([k, v]) => [k, Math.round((v / Math.max(1, runs.length)) * 10) / 10] as const)
        .sort(([, a], [, b]) => b - a),
    );
  };
  const h = mean(harness);
  const d = mean(direct);
  const total = (m: Record<string, number>) => Math.round(Object.values(m).reduce((a, b) => a + b, 0) * 10) / 10;
  const added = Object.fromEntries(
    Object.entries(h)
      .map(([k, v]) => [k, Math.round((v - (d[k] ?? 0)) * 10) / 10] as const)
      .filter(([, v]) => v > 0),
  );
  return {
    harness: h,
    harnessTotal: total(h),
    ...(direct.some((r) => r.length > 0) ? { direct: d, directTotal: total(d), added } : {}),
  };
}
