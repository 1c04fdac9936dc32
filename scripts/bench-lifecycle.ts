/** What every platform's bench shares: one lifecycle through the driver contract, timed by phase. */
import { readFile } from 'node:fs/promises';
import type { Target, VmRef } from '../adapters/driver.js';
import { boots } from '../adapters/guest/console.js';
import { defaultWaitPolicies, waitFor } from '../adapters/wait.js';
import { type Stats, stats } from '../reports/results.js';

export const benchPoll = { ...defaultWaitPolicies['guest-ready'], intervalMs: 100, backoff: 1, maxIntervalMs: 100 };

export interface Phases {
  total: number;
  createAccepted: number;
  createDone: number;
  startAccepted: number;
  running: number;
  guestReady: number;
  stop: number;
  delete: number;
}

/** create, start, guest READY, graceful stop, delete of one small VM through the harness. */
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
  const s = await t.driver.start(vm);
  const probe = t.driver.guest(vm);
  const r0 = performance.now();
  await waitFor('harness READY', benchPoll, async () => (boots(await probe.read()).length > 0 ? true : undefined));
  const ready = performance.now() - r0;
  const st = await t.driver.stop(vm, { force: false });
  const d = await t.driver.delete(vm);
  return {
    total: performance.now() - t0,
    createAccepted: c.acceptedMs,
    createDone: c.doneMs,
    startAccepted: s.acceptedMs,
    running: s.doneMs,
    guestReady: s.doneMs + ready,
    stop: st.doneMs,
    delete: d.doneMs,
  };
}

/** One Markdown table row of a Stats. */
export const statsRow = (name: string, s: Stats) =>
  `| ${name} | ${s.n} | ${s.min} | ${s.median} | ${s.p95} | ${s.max} |`;

/** The same lifecycle done directly and through the harness, interleaved so warm caches favour neither. */
export async function interleaved(
  reps: number,
  names: (kind: 'd' | 'h', i: number) => string,
  direct: (name: string) => Promise<number>,
  harness: (name: string) => Promise<Phases>,
  say: (m: string) => void,
): Promise<{ directMs: number[]; harness: Phases[] }> {
  const directMs: number[] = [];
  const out: Phases[] = [];
  for (let i = 0; i < reps; i++) {
    const order = i % 2 === 0 ? (['d', 'h'] as const) : (['h', 'd'] as const);
    for (const which of order) {
      if (which === 'd') directMs.push(await direct(names('d', i)));
      else out.push(await harness(names('h', i)));
    }
    say(
      `rep ${i + 1}: direct ${(directMs.at(-1) ?? 0).toFixed(0)} ms, vmconform ${(out.at(-1)?.total ?? 0).toFixed(0)} ms`,
    );
  }
  return { directMs, harness: out };
}

/** n lifecycles at once through the harness, per scale step, with the machine's load average after each. */
export async function scaleSteps(
  t: Target,
  scales: number[],
  name: (n: number, i: number) => string,
): Promise<{ n: number; wallMs: number; res: Phases[]; loadAvg: number }[]> {
  const out: { n: number; wallMs: number; res: Phases[]; loadAvg: number }[] = [];
  for (const n of scales) {
    const t0 = performance.now();
    const res = await Promise.all(Array.from({ length: n }, (_, i) => throughHarness(t, name(n, i))));
    const loadAvg = Number((await readFile('/proc/loadavg', 'utf8')).split(' ')[0]);
    out.push({ n, wallMs: performance.now() - t0, res, loadAvg });
  }
  return out;
}

/** Stats per named phase over the harness repetitions. */
export function phaseStats<K extends keyof Phases>(runs: Phases[], names: readonly K[]): Record<K, Stats> {
  return Object.fromEntries(names.map((p) => [p, stats(runs.map((h) => h[p]))])) as Record<K, Stats>;
}
