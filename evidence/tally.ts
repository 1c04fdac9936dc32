/**
 * Counts a bundle's requirement verdicts for a terminal summary, in the verdict vocabulary. A pass
 * on simulated or container-only evidence proves the adapter, not the platform's VMs, so it is
 * counted under its evidence kind, never as a pass.
 */
import type { Bundle } from './bundle.js';
import { verdicts } from './verdict.js';

/** A verdict, the evidence kind a pass was counted under instead, or a waived non-pass. */
export type TallyLabel = (typeof verdicts)[number] | 'container-only' | 'waived';

const order: TallyLabel[] = [...verdicts, 'container-only', 'waived'];

/** The label a requirement's result is counted under (other verdicts stay as they are: a fail needs a look). */
export function tallyLabel(r: Pick<Bundle['requirements'][string], 'verdict' | 'evidence'>): TallyLabel {
  if (r.verdict !== 'pass' || r.evidence === 'real') return r.verdict;
  return r.evidence;
}

/** `waived`: the ids a waiver accepts the non-pass of, counted apart (never as a pass). */
export function tally(
  requirements: Bundle['requirements'],
  waived: ReadonlySet<string> = new Set(),
): [TallyLabel, number][] {
  const n = new Map<TallyLabel, number>();
  for (const [id, r] of Object.entries(requirements)) {
    const l = waived.has(id) && r.verdict !== 'pass' ? 'waived' : tallyLabel(r);
    n.set(l, (n.get(l) ?? 0) + 1);
  }
  return order.filter((l) => n.has(l)).map((l) => [l, n.get(l) as number]);
}

const meaning: Partial<Record<TallyLabel, string>> = {
  simulated: 'simulated: ran against a simulator, proves the adapter, not the platform',
  'container-only': 'container-only: passed on containers, not VMs; inconclusive for a VM requirement',
  waived: 'waived: a non-pass a waiver accepts until its expiry date',
};

/** e.g. "6 requirements: 2 pass, 1 fail, 3 container-only (container-only: passed on containers, ...)". */
export function tallyText(requirements: Bundle['requirements'], waived?: ReadonlySet<string>): string {
  const t = tally(requirements, waived);
  if (t.length === 0) return '0 requirements';
  const total = t.reduce((s, [, n]) => s + n, 0);
  const notes = t.flatMap(([l]) => meaning[l] ?? []);
  return `${total} requirement${total === 1 ? '' : 's'}: ${t.map(([l, n]) => `${n} ${l}`).join(', ')}${notes.length ? ` (${notes.join('; ')})` : ''}`;
}
