import { inspect, isDeepStrictEqual } from 'node:util';
import { isVmconformError, Timeout, Unsupported } from './errors.js';
import type { Check, ProofKind, RequirementOutcome } from './verdict.js';

const show = (v: unknown) => inspect(v, { depth: 4, breakLength: Infinity });

/** Thrown to end a test on a failed check whose later steps make no sense. */
export class CheckFailed extends Error {}

/**
 * Aggregate checks for one requirement: every check is recorded and reported, not just the first
 * failure, so a verdict says everything that was wrong. Each check records how it was proven: the
 * plain methods read back through the API; `guest`, `event` and `host` are views on the same list
 * for what the guest observed, the event stream carried or the host showed.
 */
export class Checks {
  private readonly views = new Map<ProofKind, Checks>();

  constructor(
    readonly proof: ProofKind = 'api',
    readonly list: Check[] = [],
  ) {}

  private view(kind: ProofKind): Checks {
    if (kind === this.proof) return this;
    const v = this.views.get(kind) ?? new Checks(kind, this.list);
    this.views.set(kind, v);
    return v;
  }

  get api(): Checks {
    return this.view('api');
  }
  get guest(): Checks {
    return this.view('guest');
  }
  get event(): Checks {
    return this.view('event');
  }
  get host(): Checks {
    return this.view('host');
  }

  private push(c: Omit<Check, 'proof'>): void {
    this.list.push({ ...c, proof: this.proof });
  }

  ok(name: string, cond: boolean, detail?: string): boolean {
    this.push({ name, ok: cond, ...(detail ? { detail } : {}) });
    return cond;
  }

  eq(name: string, actual: unknown, expected: unknown, detail?: string): boolean {
    const ok = isDeepStrictEqual(actual, expected);
    this.push({ name, ok, expected, actual, ...(detail ? { detail } : {}) });
    return ok;
  }

  /**
   * A declared property compared with what the guest (or the API) shows: a failure names the
   * property, the declared value and the value seen, in that order.
   */
  declared(property: string, declared: unknown, seen: unknown, detail?: string): boolean {
    const ok = isDeepStrictEqual(seen, declared);
    const where = this.proof === 'guest' ? 'guest' : this.proof;
    this.push({
      name: `${property}: declared vs ${where}`,
      ok,
      expected: declared,
      actual: seen,
      ...(detail ? { detail } : {}),
    });
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
    this.push({ name, ok: false, status: 'unsupported', detail: reason });
  }

  prereqMissing(name: string, reason: string): void {
    this.push({ name, ok: false, status: 'prereq-missing', detail: reason });
  }

  /** A property this guest cannot see (says why): recorded beside the verdict, never scored. */
  unobservable(name: string, reason: string): void {
    this.push({ name, ok: false, status: 'unobservable', detail: reason });
  }

  get failed(): Check[] {
    return this.list.filter((c) => !c.ok && !c.status);
  }

  describeFailures(): string {
    return this.failed
      .map((c) =>
        c.expected !== undefined || c.actual !== undefined
          ? c.name.includes(': declared vs ')
            ? `${c.name}: declared ${show(c.expected)}, got ${show(c.actual)}${c.detail ? ` (${c.detail})` : ''}`
            : `${c.name}: expected ${show(c.expected)}, got ${show(c.actual)}`
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

/**
 * A pass that lacks a proof kind the requirement needs (a guest-observable claim proven by the API
 * alone) is partial, and says which kinds were missing; anything other than a pass is unchanged.
 * Only passed checks count: a kind seen only as unsupported or unobservable is no proof.
 */
export function requireProof(
  outcome: RequirementOutcome,
  checks: Check[],
  needs: readonly ProofKind[],
): RequirementOutcome {
  if (outcome.verdict !== 'pass' || needs.length === 0) return outcome;
  const proven = new Set(checks.filter((c) => c.ok).map((c) => c.proof ?? 'api'));
  const missing = needs.filter((k) => !proven.has(k));
  if (missing.length === 0) return outcome;
  return {
    verdict: 'partial',
    reasonCode: 'proof-missing',
    reason: `Passed, but proven by ${[...proven].sort().join(', ') || 'nothing'} only: the requirement also needs ${missing.join(', ')} proof.`,
  };
}

/** The proof kinds a requirement's passed checks used (for the report's map). */
export const provenKinds = (checks: Check[]): ProofKind[] =>
  [...new Set(checks.filter((c) => c.ok).map((c) => c.proof ?? 'api'))].sort();
