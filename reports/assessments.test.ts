import { readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { requirements } from '../requirements/registry.js';
import { defaultAssessmentsDir, loadAssessments, parseAssessments } from './assessments.js';

const good = `platform: libvirt
assessments:
  COM-01:
    assessor: someone
    date: "2026-11-25"
    verdict: met
    status: draft
    summary: free software
    sources:
      - title: licence
        url: https://example.org/licence
`;

describe('manual assessment files', () => {
  // Which platforms need a file is checked where the registry is visible (adapters/platforms.test.ts).
  it('every shipped file covers COM-01..04, INV-05, INT-04 and INT-05 for its platform, as drafts', async () => {
    const files = (await readdir(defaultAssessmentsDir)).filter((f) => f.endsWith('.yaml')).sort();
    expect(files.length).toBeGreaterThan(0);
    const needed = ['COM-01', 'COM-02', 'COM-03', 'COM-04', 'INV-05', 'INT-04', 'INT-05'];
    for (const f of files) {
      const a = await loadAssessments(f.replace('.yaml', ''));
      expect(a?.platform).toBe(f.replace('.yaml', ''));
      expect(Object.keys(a?.assessments ?? {}).sort()).toEqual([...needed].sort());
      // Developers write drafts; only Dataverket signs.
      for (const x of Object.values(a?.assessments ?? {})) expect(x.status).toBe('draft');
    }
    expect(needed.every((id) => requirements.some((r) => r.id === id && r.manual))).toBe(true);
  });

  it('parses a valid file', () => {
    expect(parseAssessments(good, 'a.yaml').assessments['COM-01']?.verdict).toBe('met');
  });

  it('errors name the file, the line and the field', () => {
    expect(() => parseAssessments(good.replace('verdict: met', 'verdict: great'), 'a.yaml')).toThrow(
      /a\.yaml:6: assessments\.COM-01\.verdict/,
    );
    expect(() => parseAssessments(good.replace('https://example.org/licence', 'not a url'), 'a.yaml')).toThrow(
      /a\.yaml:11: assessments\.COM-01\.sources\.0\.url: a public http\(s\) URL/,
    );
    expect(() => parseAssessments(good.replace('COM-01', 'COM-99'), 'a.yaml')).toThrow(
      /a\.yaml:\d+: assessments\.COM-99/,
    );
  });

  it('a signed assessment must say who signed it for Dataverket', () => {
    expect(() => parseAssessments(good.replace('status: draft', 'status: signed'), 'a.yaml')).toThrow(
      /a\.yaml:\d+: assessments\.COM-01\.signedBy: a signed assessment names who signed it/,
    );
    expect(
      parseAssessments(good.replace('status: draft', 'status: signed\n    signedBy: K. Nordmann, Dataverket'), 'a.yaml')
        .assessments['COM-01']?.signedBy,
    ).toMatch(/Dataverket/);
  });

  it('a missing required field is reported where its parent mapping starts', () => {
    expect(() => parseAssessments(good.replace('    assessor: someone\n', ''), 'a.yaml')).toThrow(
      /a\.yaml:4: assessments\.COM-01\.assessor/,
    );
  });
});
