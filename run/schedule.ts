/**
 * How an evaluation schedules its platforms. Concurrent (the default): every platform's suites run at
 * once, except the requirements whose verdict needs a quiet machine (registry `quiet`), which run after
 * every platform's concurrent phase has ended, one platform at a time. Serial: one platform after another,
 * each in a single pass (the order of before).
 */

/** What a platform run asks before its quiet phase; `release` ends its window. */
export interface QuietGate {
  /** Waits until no other platform's suites run, then holds the machine; false: the run is stopping (nothing held). */
  enter(): Promise<boolean>;
  release(): void;
}

/**
 * A barrier then a lock: no platform enters before every platform has arrived (ended its concurrent phase,
 * or ended altogether), and one platform at a time holds the window.
 */
export function quietWindow(platforms: readonly string[], stopping: () => boolean = () => false) {
  const waiting = new Set(platforms);
  let arrivedAll: () => void = () => undefined;
  const allArrived = new Promise<void>((r) => {
    arrivedAll = r;
  });
  const arrive = (p: string) => {
    waiting.delete(p);
    if (waiting.size === 0) arrivedAll();
  };
  if (waiting.size === 0) arrivedAll();
  let lock: Promise<void> = Promise.resolve();
  /** The gate of one platform: entering it counts as that platform's arrival. */
  const gate = (p: string): QuietGate => {
    let release: () => void = () => undefined;
    return {
      async enter() {
        arrive(p);
        await allArrived;
        const before = lock;
        lock = new Promise<void>((r) => {
          release = r;
        });
        await before;
        // A stopping run gives the window straight back: the next platform finds it free and stops too.
        if (!stopping()) return true;
        release();
        return false;
      },
      release: () => release(),
    };
  };
  return { gate, arrive };
}

/**
 * Runs `one` for each platform: concurrently with a shared quiet window, or serially (no gate: nothing
 * else runs anyway, and the platform keeps its single pass). Serially, an error or `stopping()` ends the
 * run before the next platform; concurrently, the others finish and then the first error is thrown.
 */
export async function schedule(
  platforms: readonly string[],
  mode: 'concurrent' | 'serial',
  one: (platform: string, gate: QuietGate | undefined) => Promise<void>,
  stopping: () => boolean = () => false,
): Promise<void> {
  if (mode === 'serial') {
    for (const p of platforms) {
      if (stopping()) return;
      await one(p, undefined);
    }
    return;
  }
  const window = quietWindow(platforms, stopping);
  const settled = await Promise.allSettled(
    platforms.map(async (p) => {
      try {
        await one(p, window.gate(p));
      } finally {
        // A platform that ended without a quiet phase (none selected, or it failed) no longer holds the others back.
        window.arrive(p);
      }
    }),
  );
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}
