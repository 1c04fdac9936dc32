/** What every platform's bench shares: one lifecycle through the driver contract, timed by phase. */
import type { Target, VmRef } from '../adapters/driver.js';
import { boots } from '../adapters/guest/console.js';
import { defaultWaitPolicies, waitFor } from '../adapters/wait.js';
import type { Stats } from '../reports/results.js';

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
