import { describe, expect, it } from 'vitest';
import { Timeout } from '../evidence/errors.js';
import { waitFor } from './wait.js';

describe('waitFor', () => {
  it('returns the first defined value and counts polls', async () => {
    let n = 0;
    const r = await waitFor(
      'third poll',
      { deadlineMs: 1000, intervalMs: 1, backoff: 1, maxIntervalMs: 1 },
      async () => (++n === 3 ? 'ok' : undefined),
    );
    expect(r).toMatchObject({ value: 'ok', polls: 3 });
  });

  it('ends with a typed Timeout naming what it waited for and the last thing seen', async () => {
    const err = await waitFor(
      'guest READY',
      { deadlineMs: 30, intervalMs: 5, backoff: 2, maxIntervalMs: 10 },
      async () => undefined,
      {
        describeLast: () => 'no console output',
      },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Timeout);
    expect((err as Timeout).message).toMatch(/waiting for guest READY; last seen: no console output/);
  });

  it('stops when aborted', async () => {
    const ac = new AbortController();
    const p = waitFor(
      'never',
      { deadlineMs: 10_000, intervalMs: 50, backoff: 1, maxIntervalMs: 50 },
      async () => undefined,
      { signal: ac.signal },
    );
    ac.abort(new Error('interrupted'));
    await expect(p).rejects.toThrow('interrupted');
  });
});
