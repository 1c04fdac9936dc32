import { describe, expect, test } from 'vitest';
import { parseBundle } from './bundle.js';
import { defaultRerunVerdicts, historyText, mergeRerun, rerunIds } from './rerun.js';
import { makeBundle } from './testkit.js';

const earlier = makeBundle('proxmox', {
  'LC-01': { verdict: 'fail' },
  'LC-02': { verdict: 'prereq-missing' },
  'LC-03': { verdict: 'pass' },
});

describe('rerun', () => {
  test('runs again what did not pass, or only the verdicts asked for; a requirement never reached counts as not run', () => {
    expect(rerunIds(earlier, defaultRerunVerdicts, ['LC-01', 'LC-02', 'LC-03'])).toEqual(['LC-01', 'LC-02']);
    expect(rerunIds(earlier, ['fail'], ['LC-01', 'LC-02', 'LC-03'])).toEqual(['LC-01']);
    // LC-04 was asked for (whole catalogue) and has no verdict: the run ended before it.
    expect(rerunIds(earlier, defaultRerunVerdicts, ['LC-01', 'LC-02', 'LC-03', 'LC-04'])).toEqual([
      'LC-01',
      'LC-02',
      'LC-04',
    ]);
    // A narrowed earlier run: only what it selected.
    const narrowed = { ...earlier, selected: ['LC-01', 'LC-02', 'LC-03'] };
    expect(rerunIds(narrowed, defaultRerunVerdicts, ['LC-01', 'LC-02', 'LC-03', 'LC-04'])).toEqual(['LC-01', 'LC-02']);
  });

  test("the rerun's bundle keeps both runs' verdicts, each naming its run, and is a valid bundle", () => {
    const rerun = makeBundle(
      'proxmox',
      { 'LC-01': { verdict: 'pass' }, 'LC-02': { verdict: 'prereq-missing' } },
      { runId: '20261126t0000-beef', selected: ['LC-01', 'LC-02'] },
    );
    const merged = parseBundle(mergeRerun(earlier, rerun, 'out/a/proxmox/results.json'), 'merged');
    expect(merged.runId).toBe('20261126t0000-beef');
    expect(merged.rerunOf).toEqual({ runId: earlier.runId, source: 'out/a/proxmox/results.json' });
    // Not narrowed: the merged bundle covers what the earlier run asked for.
    expect(merged.selected).toBeUndefined();
    const r = merged.requirements;
    expect(r['LC-01']?.verdict).toBe('pass');
    expect(r['LC-01']?.previous).toEqual([
      { runId: earlier.runId, verdict: 'fail', reasonCode: 'constructed', reason: 'LC-01 constructed fail' },
    ]);
    expect(historyText(r['LC-01'] as never, merged.runId)).toBe(
      `fail in run ${earlier.runId} → pass in run 20261126t0000-beef`,
    );
    // Carried unchanged, with its test under a prefixed id that resolves in the merged bundle.
    expect(r['LC-03']?.run).toBe(earlier.runId);
    expect(historyText(r['LC-03'] as never, merged.runId)).toBe(`pass, carried from run ${earlier.runId}`);
    const ids = new Set(merged.tests.map((t) => t.id));
    for (const req of Object.values(r)) for (const t of req.tests) expect(ids.has(t)).toBe(true);
    expect(merged.tests.find((t) => t.id === r['LC-03']?.tests[0])?.run).toBe(earlier.runId);
    // A second rerun keeps the whole history, oldest first.
    const third = makeBundle('proxmox', { 'LC-02': { verdict: 'pass' } }, { runId: '20261127t0000-cafe' });
    const again = mergeRerun(merged, third, 'out/b/proxmox/results.json');
    expect(again.requirements['LC-02']?.previous?.map((p) => [p.runId, p.verdict])).toEqual([
      [earlier.runId, 'prereq-missing'],
      ['20261126t0000-beef', 'prereq-missing'],
    ]);
    expect(again.requirements['LC-03']?.run).toBe(earlier.runId);
    expect(again.requirements['LC-01']?.run).toBe('20261126t0000-beef');
    expect(new Set(again.tests.map((t) => t.id)).size).toBe(again.tests.length);
  });
});
