import { inspect, isDeepStrictEqual } from 'node:util';
import { isVmconformError, Timeout, Unsupported } from './errors.js';
import type { Check, RequirementOutcome } from './verdict.js';

const show = (v: unknown) => inspect(v, { depth: 4, breakLength: Infinity });

/** Thrown to end a test on a failed check whose later steps make no sense. */
export class CheckFailed extends Error {}

/**
 * Aggregate checks for one requirement: every check is recorded and reported, not just the first
 * failure, so a verdict says everything that was wrong.
 */
export class Checks {
  readonly list: Check[] = [];

  ok(name: string, cond: boolean, detail?: string): boolean {
    this.list.push({ name, ok: cond, ...(detail ? { detail } : {}) });
    return cond;
  }

  eq(name: string, actual: unknown, expected: unknown, detail?: string): boolean {
    const ok = isDeepStrictEqual(actual, expected);
    this.list.push({ name, ok, expected, actual, ...(detail ? { detail } : {}) });
    return ok;
  }

  /** A check that must hold for the rest of the test to mean anything. */
  must(name: string, cond: boolean, detail?: string): void {
    if (!this.ok(name, cond, detail)) throw new CheckFailed(`${name}${detail ? `: ${detail}` : ''}`);
  }

  /** Like must(), for a value the rest of the test needs: returns it narrowed. */
  need<T>(name: string, value: T | undefined | null, detail?: string): T {
    this.must(name, value !== undefined && value !== null, detail);
    return value as T;
  }

  unsupported(name: string, reason: string): void {
    this.list.push({ name, ok: false, status: 'unsupported', detail: reason });
  }

  prereqMissing(name: string, reason: string): void {
    this.list.push({ name, ok: false, status: 'prereq-missing', detail: reason });
  }

  get failed(): Check[] {
    return this.list.filter((c) => !c.ok && !c.status);
  }

  describeFailures(): string {
    return this.failed
      .map((c) =>
        c.expected !== undefined || c.actual !== undefined
          ? `${c.name}: expected ${show(c.expected)}, got ${show(c.actual)}`
          : `${c.name}${c.detail ? `: ${c.detail}` : ''}`,
      )
      .join('; ');
  }

  outcome(): RequirementOutcome {
    const failed = this.failed;
    if (failed.length > 0)
      return { verdict: 'fail', reasonCode: 'check-failed', reason: `Failed checks: ${this.describeFailures()}` };
    const unsupported = this.list.filter((c) => c.status === 'unsupported');
    const prereq = this.list.filter((c) => c.status === 'prereq-missing');
    const passed = this.list.filter((c) => c.ok);
    if (passed.length === 0 && unsupported.length === 0 && prereq.length === 0) {
      return { verdict: 'error', reasonCode: 'no-checks', reason: 'The test made no checks: a harness defect.' };
    }
    if (unsupported.length > 0) {
      const why = unsupported.map((c) => `${c.name}: ${c.detail}`).join('; ');
      return passed.length > 0
        ? {
            verdict: 'partial',
            reasonCode: 'sub-check-unsupported',
            reason: `Passed: ${passed.map((c) => c.name).join(', ')}. Unsupported: ${why}`,
          }
        : { verdict: 'unsupported', reasonCode: 'platform-unsupported', reason: why };
    }
    if (prereq.length > 0) {
      return {
        verdict: 'prereq-missing',
        reasonCode: 'lab-prereq',
        reason: prereq.map((c) => `${c.name}: ${c.detail}`).join('; '),
      };
    }
    return { verdict: 'pass' };
  }

  /** Maps what a test threw onto a verdict; checks recorded before it are kept. */
  outcomeFromError(e: unknown): RequirementOutcome {
    if (e instanceof CheckFailed)
      return { verdict: 'fail', reasonCode: 'check-failed', reason: `Failed checks: ${this.describeFailures()}` };
    if (e instanceof Unsupported) {
      return e.by === 'adapter'
        ? {
            verdict: 'not-implemented',
            reasonCode: 'adapter-gap',
            reason: `Harness gap, not a platform failure: ${e.message}`,
          }
        : { verdict: 'unsupported', reasonCode: 'platform-unsupported', reason: e.message };
    }
    if (isVmconformError(e)) {
      if (e.code === 'prereq-missing')
        return { verdict: 'prereq-missing', reasonCode: 'lab-prereq', reason: e.message };
      if (e instanceof Timeout) return { verdict: 'fail', reasonCode: 'timeout', reason: e.message };
      return { verdict: 'fail', reasonCode: `platform-${e.code}`, reason: `${e.constructor.name}: ${e.message}` };
    }
    const msg = e instanceof Error ? e.message : String(e);
    return {
      verdict: 'error',
      reasonCode: 'harness-error',
      reason: `Harness error (not blamed on the platform): ${msg}`,
    };
  }
}
