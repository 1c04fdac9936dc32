/** The verdict taxonomy of DESIGN.md: every requirement per platform ends in exactly one of these. */
export const verdicts = [
  'pass',
  /** Passed only when retried (evaluate --retries) after a failed attempt: never counted as a pass. */
  'flaky',
  'fail',
  'unsupported',
  'partial',
  'not-implemented',
  'prereq-missing',
  'simulated',
  'manual',
  'error',
] as const;
export type Verdict = (typeof verdicts)[number];

/**
 * How a check was proven: `api` read back through the platform's API, `guest` observed inside the guest,
 * `event` seen on the platform's event stream, `host` read from host-side state beside the platform.
 */
export const proofKinds = ['api', 'guest', 'event', 'host'] as const;
export type ProofKind = (typeof proofKinds)[number];

export interface Check {
  name: string;
  ok: boolean;
  /**
   * 'unsupported' marks a sub-check the platform cannot do, which makes the verdict partial;
   * 'unobservable' a property this guest cannot see (a container has no firmware), recorded, not scored.
   */
  status?: 'unsupported' | 'prereq-missing' | 'unobservable';
  /** Absent in bundles written before proof kinds were recorded. */
  proof?: ProofKind;
  expected?: unknown;
  actual?: unknown;
  detail?: string;
}

export interface RequirementOutcome {
  verdict: Verdict;
  /** Short machine-readable reason code, e.g. 'no-task-handles'. Absent only for pass. */
  reasonCode?: string;
  /** A sentence a person can act on. Absent only for pass. */
  reason?: string;
}

/**
 * Combines the outcomes of several tests of one requirement. The worst evidence wins: a platform
 * failure anywhere is a failure; inconclusive outcomes only win over a pass.
 */
const precedence: Verdict[] = [
  'fail',
  'error',
  'unsupported',
  'partial',
  'not-implemented',
  'prereq-missing',
  'simulated',
  'manual',
  'flaky',
  'pass',
];

export function combineOutcomes(outcomes: RequirementOutcome[]): RequirementOutcome {
  if (outcomes.length === 0) {
    return {
      verdict: 'not-implemented',
      reasonCode: 'no-test-ran',
      reason: 'No test produced evidence for this requirement in this run.',
    };
  }
  const sorted = [...outcomes].sort((a, b) => precedence.indexOf(a.verdict) - precedence.indexOf(b.verdict));
  const worst = sorted[0] as RequirementOutcome;
  // pass on one test and unsupported on another means part of the requirement holds.
  const hasPass = outcomes.some((o) => o.verdict === 'pass');
  if (hasPass && worst.verdict === 'unsupported') {
    return { verdict: 'partial', reasonCode: worst.reasonCode, reason: `Some checks passed; ${worst.reason}` };
  }
  return worst;
}
