import { describe, expect, it } from 'vitest';
import type { Bundle } from '../evidence/bundle.js';
import { allPass, makeBundle, type Spec } from '../evidence/testkit.js';
import { requirements } from '../requirements/registry.js';
import { checkGate, type GateCheck } from './fail-on.js';
import { buildModel } from './report-model.js';
import { parseScoring } from './score.js';

const ids = requirements.filter((r) => r.verification !== 'manual').map((r) => r.id);
const must = requirements.find((r) => r.verification !== 'manual' && r.level === 'MUST')?.id as string;
const columns = (b: Bundle) =>
  buildModel({
    bundles: [{ source: 'b.json', bundle: b }],
    assessments: () => null,
    scoring: parseScoring('', 'defaults'),
    now: new Date('2026-11-25T01:00:00Z'),
  }).columns;
const bundle = (over: Record<string, Spec> = {}, extra: Partial<Bundle> = {}) =>
  makeBundle('libvirt', { ...allPass(ids), ...over }, extra);
/** As the CLI maps it: harness 3, failed 1, else 0. */
const gateExitCode = (g: GateCheck) => (g.harness.length > 0 ? 3 : g.failed.length > 0 ? 1 : 0);
const codes = (b: Bundle) =>
  (['fail', 'not-acceptable', 'inconclusive'] as const).map((l) => gateExitCode(checkGate(columns(b), l)));

describe('--fail-on', () => {
  it('each level includes the ones before it: fail, then a gate not acceptable, then an inconclusive one', () => {
    // Manual requirements without an assessment leave the gate inconclusive.
    expect(columns(bundle())[0]?.score.gate).toBe('inconclusive');
    expect(codes(bundle())).toEqual([0, 0, 1]);
    // An unsupported MUST: no requirement failed, but the gate is not acceptable.
    const unsupported = bundle({ [must]: { verdict: 'unsupported' } });
    expect(columns(unsupported)[0]?.score.gate).toBe('not acceptable');
    expect(codes(unsupported)).toEqual([0, 1, 1]);
    const failed = bundle({ [must]: { verdict: 'fail' } });
    expect(codes(failed)).toEqual([1, 1, 1]);
    expect(checkGate(columns(failed), 'fail').failed).toEqual([`libvirt: failed ${must}`]);
    const cols = columns(bundle());
    (cols[0] as (typeof cols)[0]).score.gate = 'acceptable';
    expect(gateExitCode(checkGate(cols, 'inconclusive'))).toBe(0);
  });

  it('objects left behind and evidence that failed verification fail every level', () => {
    const leaky = bundle(
      {},
      { leaks: { before: [], after: [{ kind: 'vm', id: '1', name: 'vmc-x', runId: 'r' }], remaining: [] } },
    );
    expect(checkGate(columns(leaky), 'fail').failed).toEqual(['libvirt: the run left 1 objects behind']);
    const cols = columns(bundle());
    (cols[0] as (typeof cols)[0]).integrity = { state: 'failed', lines: ['changed: libvirt/results.json'] };
    expect(gateExitCode(checkGate(cols, 'fail'))).toBe(1);
  });

  it('an error verdict or a run that did not finish is the harness, whatever the level', () => {
    const errored = bundle({ [must]: { verdict: 'error' }, 'DSK-01': { verdict: 'fail' } });
    expect(codes(errored)).toEqual([3, 3, 3]);
    expect(checkGate(columns(errored), 'fail').harness).toEqual([
      `libvirt: error verdicts (the harness's, not the platform's): ${must}`,
    ]);
    expect(codes(bundle({}, { complete: false }))).toEqual([3, 3, 3]);
  });
});
