/**
 * `--fail-on`: what makes `evaluate` and `report` exit 1, so a nightly job pages the platform's owner
 * only for what it asked about. Each level includes the ones before it:
 *   fail            a requirement failed, or the run left objects behind (the default)
 *   not-acceptable  also: a platform's gate is not acceptable
 *   inconclusive    also: a platform's gate is inconclusive (only acceptable holds)
 * What pages someone else (an `error` verdict, a run that did not finish) is a harness error, apart.
 */
import type { Column } from './report-model.js';

export const failOnLevels = ['fail', 'not-acceptable', 'inconclusive'] as const;
export type FailOn = (typeof failOnLevels)[number];

export interface GateCheck {
  /** Why the gate asked for does not hold, one line each: exit 1 (scripts/exit-codes.ts). */
  failed: string[];
  /** What no platform verdict explains (harness or lab): exit 3. */
  harness: string[];
}

export function checkGate(columns: Column[], failOn: FailOn): GateCheck {
  const out: GateCheck = { failed: [], harness: [] };
  for (const c of columns) {
    const p = c.platform;
    const by = (v: string) => Object.entries(c.bundle.requirements).flatMap(([id, o]) => (o.verdict === v ? [id] : []));
    const errored = by('error');
    if (errored.length > 0)
      out.harness.push(`${p}: error verdicts (the harness's, not the platform's): ${errored.join(' ')}`);
    if (!c.bundle.complete) out.harness.push(`${p}: the run did not finish (its bundle is incomplete)`);
    const failed = by('fail');
    if (failed.length > 0) out.failed.push(`${p}: failed ${failed.join(' ')}`);
    const left = c.bundle.leaks?.after.length ?? 0;
    if (left > 0) out.failed.push(`${p}: the run left ${left} objects behind`);
    // Tampered or damaged evidence cannot hold any gate.
    if (c.integrity?.state === 'failed') out.failed.push(`${p}: evidence failed verification`);
    if (failOn !== 'fail' && c.score.gate === 'not acceptable') out.failed.push(`${p}: gate not acceptable`);
    if (failOn === 'inconclusive' && c.score.gate === 'inconclusive') out.failed.push(`${p}: gate inconclusive`);
  }
  return out;
}
