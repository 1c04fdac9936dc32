/**
 * `evaluate --retries N`: vitest runs a failed test again, up to N times, in the same task. Each attempt
 * is recorded, and a test that passed only after a failed attempt is `flaky`, never a plain pass.
 */
import type { Attempt } from './bundle.js';
import type { TestEvidence } from './results.js';
import type { RequirementOutcome, Verdict } from './verdict.js';

const passed: Verdict[] = ['pass', 'simulated'];
const failed: Verdict[] = ['fail', 'error'];

/** The outcome of a retried test from its attempts, oldest first: the last one, but a pass after a failure is flaky. */
export function outcomeOfAttempts(attempts: readonly RequirementOutcome[]): RequirementOutcome {
  const last = attempts.at(-1);
  if (!last) throw new Error('outcomeOfAttempts: no attempt');
  const before = attempts.slice(0, -1).filter((a) => failed.includes(a.verdict));
  if (!passed.includes(last.verdict) || before.length === 0) return last;
  return {
    verdict: 'flaky',
    reasonCode: 'passed-on-retry',
    reason: `Passed only on attempt ${attempts.length} of ${attempts.length}${last.verdict === 'simulated' ? ' (against a simulator)' : ''}; before: ${before.map((a) => `${a.verdict}: ${a.reason ?? ''}`.trim()).join('; ')}`,
  };
}

const attemptOf = (e: TestEvidence): Attempt => ({
  outcome: e.outcome,
  checks: e.checks,
  startedAt: e.startedAt,
  durationMs: e.durationMs,
});

/**
 * The evidence a test leaves after this attempt, given what an earlier attempt of the same task left
 * (vitest keeps a task's meta across its retries). A first attempt is returned as it is.
 */
export function recordAttempt(prior: TestEvidence | undefined, now: TestEvidence): TestEvidence {
  if (!prior) return now;
  const attempts = [...(prior.attempts ?? [attemptOf(prior)]), attemptOf(now)];
  return { ...now, attempts, outcome: outcomeOfAttempts(attempts.map((a) => a.outcome)) };
}
