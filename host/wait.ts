import { Timeout } from '../evidence/errors.js';

/** Declared waiting: every wait in the harness goes through here, never a bare sleep. */
export interface WaitPolicy {
  deadlineMs: number;
  intervalMs: number;
  /** Multiplier applied to the interval after each poll, capped at maxIntervalMs. */
  backoff: number;
  maxIntervalMs: number;
}

export type WaitOperation =
  | 'create'
  | 'start'
  | 'guest-ready'
  | 'stop-graceful'
  | 'stop-forced'
  | 'reboot'
  | 'delete'
  | 'device'
  | 'task'
  | 'daemon';

/** Defaults sized for TCG guests on a 2-core machine; lab config may override per operation. */
export const defaultWaitPolicies: Record<WaitOperation, WaitPolicy> = {
  create: { deadlineMs: 120_000, intervalMs: 200, backoff: 1.5, maxIntervalMs: 2_000 },
  start: { deadlineMs: 60_000, intervalMs: 100, backoff: 1.5, maxIntervalMs: 1_000 },
  'guest-ready': { deadlineMs: 90_000, intervalMs: 100, backoff: 1.3, maxIntervalMs: 500 },
  'stop-graceful': { deadlineMs: 60_000, intervalMs: 100, backoff: 1.5, maxIntervalMs: 1_000 },
  'stop-forced': { deadlineMs: 30_000, intervalMs: 100, backoff: 1.5, maxIntervalMs: 1_000 },
  reboot: { deadlineMs: 90_000, intervalMs: 100, backoff: 1.3, maxIntervalMs: 500 },
  delete: { deadlineMs: 60_000, intervalMs: 100, backoff: 1.5, maxIntervalMs: 1_000 },
  device: { deadlineMs: 30_000, intervalMs: 100, backoff: 1.3, maxIntervalMs: 500 },
  task: { deadlineMs: 120_000, intervalMs: 200, backoff: 1.5, maxIntervalMs: 2_000 },
  daemon: { deadlineMs: 60_000, intervalMs: 200, backoff: 1.5, maxIntervalMs: 2_000 },
};

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });

/**
 * Polls `probe` until it returns a value other than undefined, or throws Timeout naming what was
 * awaited and the last thing seen, so a hang always ends with a reason.
 */
export async function waitFor<T>(
  what: string,
  policy: WaitPolicy,
  probe: () => Promise<T | undefined>,
  opts: { signal?: AbortSignal; describeLast?: () => string } = {},
): Promise<{ value: T; waitedMs: number; polls: number }> {
  const start = performance.now();
  let interval = policy.intervalMs;
  let polls = 0;
  for (;;) {
    polls++;
    const value = await probe();
    const waitedMs = performance.now() - start;
    if (value !== undefined) return { value, waitedMs, polls };
    if (waitedMs + interval > policy.deadlineMs) {
      const last = opts.describeLast ? `; last seen: ${opts.describeLast()}` : '';
      throw new Timeout(
        `timed out after ${Math.round(waitedMs)} ms (deadline ${policy.deadlineMs} ms, ${polls} polls) waiting for ${what}${last}`,
        waitedMs,
      );
    }
    await sleep(interval, opts.signal);
    interval = Math.min(policy.maxIntervalMs, interval * policy.backoff);
  }
}
