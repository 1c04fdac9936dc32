/**
 * Genuine failures of a REAL platform in this lab (known-findings.yaml, a waiver file: the rules are
 * there). Only `vmconform test` applies them to its pass/fail; `evaluate` reports every finding as it is
 * unless given a waiver file itself (--waivers), and then only in the report.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RequirementOutcome } from '../evidence/verdict.js';
import { parseWaivers, type Waiver, waiverFor } from './waivers.js';

export const knownFindingsFile = fileURLToPath(new URL('./known-findings.yaml', import.meta.url));

export const knownFindings: Waiver[] = parseWaivers(readFileSync(knownFindingsFile, 'utf8'), knownFindingsFile);

export type FindingDecision =
  | { kind: 'none' }
  /** The outcome is a listed finding: report it as skipped, the evidence keeps `fail`. */
  | { kind: 'known'; finding: Waiver; message: string }
  /** A listed finding passed: the list is stale and the test must fail. */
  | { kind: 'stale'; finding: Waiver; message: string }
  /** The listed finding's waiver has expired: the fail fails again, saying so. */
  | { kind: 'expired'; finding: Waiver; message: string };

/** What a test's outcome means against the list. Pure: the harness decides what to tell vitest. */
export function classifyFinding(
  findings: readonly Waiver[],
  platform: string,
  requirements: readonly string[],
  outcome: RequirementOutcome,
  today = new Date(),
): FindingDecision {
  const listed = findings.filter((f) => f.platform === platform && requirements.includes(f.requirement));
  if (listed.length === 0) return { kind: 'none' };
  if (outcome.verdict === 'pass' || outcome.verdict === 'simulated') {
    const f = listed[0] as Waiver;
    return {
      kind: 'stale',
      finding: f,
      message: `known platform finding no longer reproduces: ${f.platform} ${f.requirement} now ${outcome.verdict}; remove it from requirements/known-findings.yaml (${f.reason})`,
    };
  }
  if (outcome.verdict !== 'fail') return { kind: 'none' };
  const w = waiverFor(listed, platform, requirements, outcome, today);
  if (!w) return { kind: 'none' };
  const f = w.waiver;
  if (w.expired)
    return {
      kind: 'expired',
      finding: f,
      message: `known platform finding's waiver expired on ${f.expires} (owner ${f.owner}), so it fails again: ${f.platform} ${f.requirement}; renew or remove it in requirements/known-findings.yaml`,
    };
  return {
    kind: 'known',
    finding: f,
    message: `known platform finding: ${f.platform} ${f.requirement} (observed ${f.observed ?? 'unknown'}, waived until ${f.expires} by ${f.owner}): ${f.reason}`,
  };
}

/** Set by `vmconform test` only: `evaluate` reports every fail as a failure. */
export const knownFindingsEnv = 'VMCONFORM_KNOWN_FINDINGS';
