import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { allPass, makeBundle, type Spec } from '../evidence/testkit.js';
import { requirements } from '../requirements/registry.js';
import type { Assessment, AssessmentFile } from './assessments.js';
import { defaultScoringFile, loadScoring, parseScoring, type Scoring, scorePlatform } from './score.js';

const scoring: Scoring = parseScoring('{}', 'defaults.yaml');
const autoIds = requirements.filter((r) => r.verification !== 'manual').map((r) => r.id);
const manualIds = requirements.filter((r) => r.verification === 'manual').map((r) => r.id);

const signed = (verdict: Assessment['verdict'] = 'met'): Assessment => ({
  assessor: 'a',
  date: '2026-11-25',
  verdict,
  status: 'signed',
  signedBy: 'Dataverket',
  summary: 's',
  sources: [{ title: 't', url: 'https://example.org/' }],
});
const assessed = (over: Record<string, Assessment> = {}, base: () => Assessment = signed): AssessmentFile => ({
  platform: 'libvirt',
  assessments: { ...Object.fromEntries(manualIds.map((id) => [id, base()])), ...over },
});
const score = (specs: Record<string, Spec>, a: AssessmentFile | null = assessed(), s = scoring) =>
  scorePlatform('libvirt', makeBundle('libvirt', specs), a, s);
const gate = (r: ReturnType<typeof score>, dim: string) => r.dimensions.find((d) => d.dimension === dim)?.gate;

describe('scoring a platform per dimension', () => {
  it('everything passed with real evidence and signed assessments met: acceptable in all five', () => {
    const r = score(allPass(autoIds));
    expect(r.dimensions.map((d) => d.gate)).toEqual(Array(5).fill('acceptable'));
    expect(r.gate).toBe('acceptable');
  });

  it('a failed MUST makes its dimension and the platform not acceptable, with the reason', () => {
    const r = score({ ...allPass(autoIds), 'DSK-01': { verdict: 'fail', reason: 'no serial' } });
    expect(gate(r, 'netstore')).toBe('not acceptable');
    expect(gate(r, 'lifecycle')).toBe('acceptable');
    expect(r.gate).toBe('not acceptable');
    expect(r.dimensions.find((d) => d.dimension === 'netstore')?.reasons[0]).toMatch(/MUST DSK-01 fail: no serial/);
  });

  it('an unsupported MUST counts against the platform (not a skip)', () => {
    const r = score({ ...allPass(autoIds), 'MDC-01': { verdict: 'unsupported' } });
    expect(gate(r, 'multidc')).toBe('not acceptable');
  });

  it('a partly met MUST is not acceptable', () => {
    expect(gate(score({ ...allPass(autoIds), 'LC-03': { verdict: 'partial' } }), 'lifecycle')).toBe('not acceptable');
  });

  for (const v of ['prereq-missing', 'not-implemented', 'simulated', 'error'] as const) {
    it(`a MUST that is ${v} makes the dimension inconclusive`, () => {
      const r = score({ ...allPass(autoIds), 'NIC-04': { verdict: v } });
      expect(gate(r, 'netstore')).toBe('inconclusive');
      expect(r.gate).toBe('inconclusive');
    });
  }

  it('a failure wins over an inconclusive MUST in the same dimension', () => {
    const r = score({ ...allPass(autoIds), 'NIC-04': { verdict: 'prereq-missing' }, 'NIC-01': { verdict: 'fail' } });
    expect(gate(r, 'netstore')).toBe('not acceptable');
  });

  it('a pass on container-only or simulated evidence is never a pass for a VM requirement', () => {
    for (const evidence of ['container-only', 'simulated'] as const) {
      const r = score({ ...allPass(autoIds), 'LC-02': { verdict: 'pass', evidence } });
      expect(r.cells['LC-02']).toMatchObject({
        verdict: 'pass',
        standing: 'inconclusive',
        reasonCode: `${evidence}-evidence`,
      });
      expect(gate(r, 'lifecycle')).toBe('inconclusive');
    }
  });

  it('a fail on container-only evidence is not blamed on the platform either', () => {
    const r = score({ ...allPass(autoIds), 'LC-02': { verdict: 'fail', evidence: 'container-only' } });
    expect(r.cells['LC-02']?.standing).toBe('inconclusive');
  });

  it('a requirement the run did not cover is inconclusive, never a pass', () => {
    const { 'LC-04': _, ...rest } = allPass(autoIds);
    const r = score(rest);
    expect(r.cells['LC-04']).toMatchObject({
      verdict: 'not-implemented',
      standing: 'inconclusive',
      reasonCode: 'not-run',
    });
    expect(r.cells['LC-04']?.reason).toMatch(/suites\/lifecycle\.conformance\.ts did not run/);
    expect(gate(r, 'lifecycle')).toBe('inconclusive');
  });

  it('a requirement whose suite ran without a test for it is a harness gap, not a platform result', () => {
    const b = makeBundle('libvirt', allPass(autoIds.filter((id) => id !== 'LC-04')));
    for (const t of b.tests) t.file = 'suites/lifecycle.conformance.ts';
    const r = scorePlatform('libvirt', b, assessed(), scoring);
    expect(r.cells['LC-04']).toMatchObject({
      verdict: 'not-implemented',
      standing: 'inconclusive',
      reasonCode: 'no-test',
    });
    expect(r.cells['LC-04']?.reason).toMatch(/harness gap/);
  });

  it('a requirement a narrowed run did not select is not selected, neither a harness gap nor a platform result', () => {
    const b = makeBundle('libvirt', allPass(['LC-01']));
    for (const t of b.tests) t.file = 'suites/lifecycle.conformance.ts';
    b.selected = ['LC-01'];
    const r = scorePlatform('libvirt', b, assessed(), scoring);
    expect(r.cells['LC-01']?.verdict).toBe('pass');
    expect(r.cells['LC-04']).toMatchObject({ standing: 'inconclusive', reasonCode: 'not-selected' });
    expect(r.cells['LC-04']?.reason).toMatch(/Not selected in .* \(narrowed with -r\/--skip\)/);
  });

  describe('manual assessments', () => {
    it('a draft counts as inconclusive until Dataverket signs it', () => {
      const r = score(
        allPass(autoIds),
        assessed({}, () => ({ ...signed(), status: 'draft', signedBy: undefined })),
      );
      expect(r.cells['COM-01']).toMatchObject({
        verdict: 'manual',
        standing: 'inconclusive',
        reasonCode: 'assessment-draft',
      });
      expect(r.cells['COM-01']?.reason).toMatch(/Dataverket signs/);
      expect(gate(r, 'commercial')).toBe('inconclusive');
      expect(r.gate).toBe('inconclusive');
    });

    it('no assessment file leaves manual requirements inconclusive', () => {
      const r = score(allPass(autoIds), null);
      expect(r.cells['COM-02']).toMatchObject({
        verdict: 'manual',
        standing: 'inconclusive',
        reasonCode: 'no-assessment',
      });
    });

    it('a signed not-met on a MUST makes the dimension not acceptable', () => {
      const r = score(allPass(autoIds), assessed({ 'COM-04': signed('not-met') }));
      expect(r.cells['COM-04']).toMatchObject({ verdict: 'manual', standing: 'not-met' });
      expect(gate(r, 'commercial')).toBe('not acceptable');
    });

    it('fills in where the lab could not conclude, but never overrides conclusive run evidence', () => {
      const r = score(
        { ...allPass(autoIds), 'NIC-04': { verdict: 'prereq-missing' }, 'NIC-01': { verdict: 'fail' } },
        assessed({ 'NIC-04': signed('met'), 'NIC-01': signed('met') }),
      );
      expect(r.cells['NIC-04']).toMatchObject({ verdict: 'manual', standing: 'met', source: 'assessment' });
      expect(r.cells['NIC-01']).toMatchObject({ verdict: 'fail', standing: 'not-met', source: 'run' });
    });
  });

  describe('SHOULD score against the threshold', () => {
    // operational: OBS-04, OPS-01..05 (SHOULD) and INT-04 (MUST), INT-05 (SHOULD).
    const opsShoulds = requirements
      .filter((r) => r.dimension === 'operational' && r.level === 'SHOULD')
      .map((r) => r.id);
    const weights = Object.fromEntries(opsShoulds.map((id) => [id, 1]));
    const even: Scoring = { ...scoring, weights, defaultWeight: 1 };
    const threeWith = (verdict: Spec['verdict']) =>
      Object.fromEntries(
        opsShoulds
          .filter((id) => id !== 'INT-05')
          .slice(0, 3)
          .map((id) => [id, { verdict }]),
      );

    it('failing SHOULDs below the threshold make the dimension not acceptable', () => {
      const r = score({ ...allPass(autoIds), ...threeWith('fail') }, assessed(), even);
      const d = r.dimensions.find((x) => x.dimension === 'operational');
      expect(d?.should.max).toBeCloseTo((opsShoulds.length - 3) / opsShoulds.length);
      expect(d?.gate).toBe('not acceptable');
    });

    it('one failed SHOULD above the threshold stays acceptable', () => {
      const r = score({ ...allPass(autoIds), 'OPS-05': { verdict: 'fail' } }, assessed(), even);
      expect(gate(r, 'operational')).toBe('acceptable');
    });

    it('weights come from the scoring file', () => {
      const heavy: Scoring = { ...even, weights: { ...weights, 'OPS-05': 100 } };
      expect(
        gate(score({ ...allPass(autoIds), 'OPS-05': { verdict: 'fail' } }, assessed(), heavy), 'operational'),
      ).toBe('not acceptable');
    });

    it('a per-dimension threshold overrides the default one', () => {
      const strict: Scoring = { ...even, thresholds: { operational: 1 } };
      const r = score({ ...allPass(autoIds), 'OPS-05': { verdict: 'fail' } }, assessed(), strict);
      expect(gate(r, 'operational')).toBe('not acceptable');
      expect(r.dimensions.find((d) => d.dimension === 'operational')?.should.threshold).toBe(1);
    });

    it('partial earns the configured points', () => {
      const r = score({ ...allPass(autoIds), 'OPS-05': { verdict: 'partial' } }, assessed(), even);
      expect(r.dimensions.find((d) => d.dimension === 'operational')?.should.min).toBeCloseTo(
        (opsShoulds.length - 0.5) / opsShoulds.length,
      );
    });

    it('inconclusive SHOULDs that could still go either way make the dimension inconclusive', () => {
      const r = score({ ...allPass(autoIds), ...threeWith('prereq-missing') }, assessed(), even);
      const d = r.dimensions.find((x) => x.dimension === 'operational');
      expect(d?.should.min).toBeLessThan(even.threshold);
      expect(d?.should.max).toBe(1);
      expect(d?.gate).toBe('inconclusive');
      expect(d?.reasons.at(-1)).toMatch(/between \d+% and 100% while 3 inconclusive SHOULDs could go either way/);
    });
  });

  it('the platform is acceptable only when all five dimensions are', () => {
    const r = score({ ...allPass(autoIds), 'MDC-03': { verdict: 'prereq-missing' } });
    expect(r.dimensions.filter((d) => d.gate === 'acceptable')).toHaveLength(4);
    expect(r.gate).toBe('inconclusive');
  });
});

describe('the scoring file', () => {
  it('the shipped reports/scoring.yaml parses and weighs only SHOULDs', async () => {
    const s = await loadScoring();
    expect(s.threshold).toBe(0.7);
    for (const id of Object.keys(s.weights)) expect(requirements.find((r) => r.id === id)?.level).toBe('SHOULD');
    expect(await readFile(defaultScoringFile, 'utf8')).toMatch(/inconclusive/);
  });

  it('an empty file gives the documented defaults', () => {
    expect(parseScoring('', 'x.yaml')).toMatchObject({
      threshold: 0.7,
      defaultWeight: 1,
      points: { pass: 1, partial: 0.5 },
    });
  });

  it('bad values name file, line and field', () => {
    expect(() => parseScoring('threshold: 0.7\npoints:\n  partial: 2\n', 'score.yaml')).toThrow(
      /score\.yaml:3: points\.partial/,
    );
    expect(() => parseScoring('weights:\n  LC-01: 3\n', 'score.yaml')).toThrow(/LC-01 is not a SHOULD requirement/);
    expect(() => parseScoring('thresholds:\n  network: 0.5\n', 'score.yaml')).toThrow(
      /score\.yaml:\d: thresholds\.network/,
    );
  });
});
