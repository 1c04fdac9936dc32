/**
 * Genuine failures of a REAL platform in this lab, already reported in the evidence (they stay `fail`
 * there). Only `vmconform test` reads this list, so the project's own test pass can be green while the
 * platform's finding stays visible: a listed fail is reported to vitest as skipped ("known platform
 * finding: ..."), never as passed; a listed finding that no longer reproduces (the requirement passes)
 * fails the test, so the list cannot go stale. `evaluate` never reads it.
 *
 * Rules: real platforms only. A simulator's fail is a bug to fix in the simulator, adapter or suite,
 * or, when the simulator reproduces the platform's own behaviour on purpose, a modelled expectation
 * (modelled-expectations.ts), never a finding. One entry per finding, matched on the reason so a
 * different failure of the same requirement still fails.
 */
/** A registered platform name. */
type Platform = string;

import type { RequirementOutcome } from '../evidence/verdict.js';

export interface KnownFinding {
  platform: Platform;
  /** The requirement ID whose test fails (a test naming several IDs matches on any of them). */
  requirement: string;
  /** Matched against `<reasonCode>: <reason>` of the test's outcome. */
  reason: RegExp;
  /** Why this is the platform's behaviour and not a harness defect. */
  why: string;
  /** When it was first observed in this lab (UTC date). */
  observed: string;
}

export const knownFindings: KnownFinding[] = [
  {
    platform: 'incus',
    requirement: 'INT-01',
    // The declared metadata has `empty: ''`; what came back lacks the key and nothing else differs.
    reason:
      /^check-failed: Failed checks: returned verbatim: expected \{[^{}]*empty: ''[^{}]*\}, got \{(?![^{}]*empty:)[^{}]*\}; verbatim after start and stop: expected \{[^{}]*\}, got \{(?![^{}]*empty:)[^{}]*\}$/,
    why: 'Incus drops a user.* config key whose value is the empty string (setting a key to "" unsets it), so metadata with an empty value does not round-trip. Real incusd behaviour.',
    observed: '2026-11-25',
  },
];

export type FindingDecision =
  | { kind: 'none' }
  /** The outcome is a listed finding: report it as skipped, the evidence keeps `fail`. */
  | { kind: 'known'; finding: KnownFinding; message: string }
  /** A listed finding passed: the list is stale and the test must fail. */
  | { kind: 'stale'; finding: KnownFinding; message: string };

/** What a test's outcome means against the list. Pure: the harness decides what to tell vitest. */
export function classifyFinding(
  findings: readonly KnownFinding[],
  platform: Platform,
  requirements: readonly string[],
  outcome: RequirementOutcome,
): FindingDecision {
  const listed = findings.filter((f) => f.platform === platform && requirements.includes(f.requirement));
  if (listed.length === 0) return { kind: 'none' };
  if (outcome.verdict === 'pass' || outcome.verdict === 'simulated') {
    const f = listed[0] as KnownFinding;
    return {
      kind: 'stale',
      finding: f,
      message: `known platform finding no longer reproduces: ${f.platform} ${f.requirement} now ${outcome.verdict}; remove it from requirements/known-findings.ts (${f.why})`,
    };
  }
  if (outcome.verdict !== 'fail') return { kind: 'none' };
  const text = `${outcome.reasonCode ?? ''}: ${outcome.reason ?? ''}`;
  const match = listed.find((f) => f.reason.test(text));
  if (!match) return { kind: 'none' };
  return {
    kind: 'known',
    finding: match,
    message: `known platform finding: ${match.platform} ${match.requirement} (observed ${match.observed}): ${match.why}`,
  };
}

/** Set by `vmconform test` only: `evaluate` reports every fail as a failure. */
export const knownFindingsEnv = 'VMCONFORM_KNOWN_FINDINGS';
