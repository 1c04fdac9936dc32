/**
 * `evaluate --rerun`: which requirements of an earlier run to run again, and the rerun's bundle that
 * merges both runs. Every verdict says which run it came from, and a replaced one is kept beside its
 * replacement, so nothing is silently overwritten.
 */
import type { Bundle } from './bundle.js';
import { type Verdict, verdicts } from './verdict.js';

/** By default a rerun runs everything that did not pass. */
export const defaultRerunVerdicts: readonly Verdict[] = verdicts.filter((v) => v !== 'pass');

/**
 * The requirements of `earlier` whose verdict is one of `wanted`, in `expected` order. `expected` is what
 * the earlier run asked for (its selection, or every tagged requirement): one it asked for and never
 * reached (an interrupted run) has no verdict, which counts as not-implemented.
 */
export function rerunIds(earlier: Bundle, wanted: readonly Verdict[], expected: readonly string[]): string[] {
  const asked = earlier.selected ? expected.filter((id) => earlier.selected?.includes(id)) : expected;
  const ids = new Set([...asked, ...Object.keys(earlier.requirements)]);
  return [...ids].filter((id) => wanted.includes(earlier.requirements[id]?.verdict ?? 'not-implemented'));
}

/**
 * The rerun's bundle: the rerun's verdicts, each with what earlier runs said of it (`previous`), and the
 * earlier run's other verdicts carried unchanged with the run they came from (`run`) and their tests,
 * whose ids are prefixed with that run's id so they never clash with this run's.
 */
export function mergeRerun(earlier: Bundle, rerun: Bundle, source: string): Bundle {
  const carriedId = (t: string) => (earlier.tests.find((x) => x.id === t)?.run ? t : `${earlier.runId}/${t}`);
  const requirements: Bundle['requirements'] = {};
  const carriedTests = new Set<string>();
  for (const id of [...new Set([...Object.keys(earlier.requirements), ...Object.keys(rerun.requirements)])].sort()) {
    const before = earlier.requirements[id];
    const now = rerun.requirements[id];
    if (now) {
      const was = before
        ? {
            runId: before.run ?? earlier.runId,
            verdict: before.verdict,
            ...(before.reasonCode ? { reasonCode: before.reasonCode } : {}),
            ...(before.reason ? { reason: before.reason } : {}),
          }
        : { runId: earlier.runId, verdict: 'not-implemented' as const, reasonCode: 'no-test-ran' };
      requirements[id] = { ...now, previous: [...(before?.previous ?? []), was] };
    } else if (before) {
      for (const t of before.tests) carriedTests.add(t);
      requirements[id] = {
        ...before,
        run: before.run ?? earlier.runId,
        tests: before.tests.map(carriedId),
        checks: before.checks.map((c) => ({ ...c, test: carriedId(c.test) })),
      };
    }
  }
  const carried = earlier.tests
    .filter((t) => carriedTests.has(t.id))
    .map((t) => ({ ...t, id: carriedId(t.id), run: t.run ?? earlier.runId }));
  const { selected: _narrowedTo, ...rest } = rerun;
  return {
    ...rest,
    // The merged bundle covers what the earlier run asked for, not only what this one reran.
    ...(earlier.selected ? { selected: earlier.selected } : {}),
    rerunOf: { runId: earlier.runId, source },
    complete: rerun.complete && earlier.complete,
    requirements,
    tests: [...rerun.tests, ...carried],
  };
}

/** "fail in run A → pass in run B" (or "pass, carried from run A"), for a report of a rerun's bundle. */
export function historyText(
  r: Pick<Bundle['requirements'][string], 'verdict' | 'run' | 'previous'>,
  runId: string,
): string | undefined {
  if (r.run) return `${r.verdict}, carried from run ${r.run}`;
  if (!r.previous?.length) return undefined;
  return [...r.previous.map((p) => `${p.verdict} in run ${p.runId}`), `${r.verdict} in run ${runId}`].join(' → ');
}
