/**
 * What every adapter shares, written once: its wait policies, the ownership guard, a rollback stack for
 * half-made objects, and `Unsupported(adapter)` for whatever it does not implement. `composeDriver`
 * assembles a Driver from concern parts; a method no part has throws Unsupported naming the adapter.
 */
import { NotOwned, Unsupported } from '../../evidence/errors.js';
import type { Transcript } from '../../evidence/transcript.js';
import { defaultWaitPolicies, type WaitOperation, type WaitPolicy } from '../../host/wait.js';
import { type Driver, type DriverParts, driverMethods } from './driver.js';
import { type OwnershipTag, ownershipMarker } from './platform.js';

export interface AdapterContext {
  runId: string;
  transcript: Transcript;
}

/** Undo steps for what a multi-step call made so far; unwound newest first when the call fails. */
export class Rollback {
  private readonly steps: { what: string; undo: () => Promise<unknown> }[] = [];

  add(what: string, undo: () => Promise<unknown>): void {
    this.steps.push({ what, undo });
  }

  /** Runs every undo step (newest first) whatever fails; returns what could not be undone. */
  async unwind(): Promise<string[]> {
    const failed: string[] = [];
    for (const s of this.steps.splice(0).reverse()) {
      await s.undo().catch((e: unknown) => failed.push(`${s.what}: ${e instanceof Error ? e.message : String(e)}`));
    }
    return failed;
  }
}

export class AdapterBase {
  constructor(
    readonly platform: string,
    readonly ctx: AdapterContext,
    private readonly waits?: Partial<Record<WaitOperation, WaitPolicy>>,
  ) {}

  /** The lab config's policy for this operation, else the default. */
  policy(op: WaitOperation): WaitPolicy {
    return this.waits?.[op] ?? defaultWaitPolicies[op];
  }

  /** Refuses, typed, to touch an object that does not carry the harness's ownership tag, whatever its name. */
  ensureOwned(owner: Pick<OwnershipTag, 'marker'> | undefined, what: string): void {
    if (owner?.marker !== ownershipMarker)
      throw new NotOwned(`${this.platform}: refusing to touch ${what}: it carries no ${ownershipMarker} ownership tag`);
  }

  /**
   * Runs a multi-step create with an undo stack: on failure what was made is removed (newest first) and
   * the original error is rethrown, with anything that could not be undone named in its message.
   */
  async withRollback<T>(fn: (rollback: Rollback) => Promise<T>): Promise<T> {
    const rollback = new Rollback();
    try {
      return await fn(rollback);
    } catch (e) {
      const left = await rollback.unwind();
      if (left.length > 0 && e instanceof Error) e.message += `; not undone: ${left.join('; ')}`;
      throw e;
    }
  }

  /** The adapter (not the platform) lacks this: a harness gap, never blamed on the platform. */
  unsupported(method: string, why = 'not implemented in this adapter'): never {
    throw new Unsupported(`${this.platform} adapter: ${method}: ${why}`, 'adapter');
  }
}

/** One Driver from its concern parts: each method bound to the part that has it, else Unsupported(adapter). */
export function composeDriver(base: AdapterBase, parts: DriverParts): Driver {
  const driver: Record<string, unknown> = { platform: base.platform };
  for (const [concern, methods] of Object.entries(driverMethods)) {
    const part = parts[concern as keyof DriverParts] as Record<string, unknown> | undefined;
    for (const m of methods) {
      const fn = part?.[m];
      driver[m] =
        typeof fn === 'function'
          ? fn.bind(part)
          : m === 'close'
            ? async () => undefined
            : m === 'guest'
              ? () => base.unsupported(m)
              : async () => base.unsupported(m);
    }
  }
  return driver as unknown as Driver;
}
