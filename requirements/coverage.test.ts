import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildCoverage, coverageProblems, readSuiteTests, suiteTests } from './coverage.js';
import { requirements } from './registry.js';
import { fakeRequirement } from './testkit.js';

const root = fileURLToPath(new URL('../', import.meta.url));

const req = fakeRequirement;

describe('suiteTests', () => {
  it('reads requirement() calls: literal IDs and title, named as the runner names the test', () => {
    const source = [
      "describe('a', () => {",
      "  requirement(['A-01'], 'one', async () => {});",
      '  requirement(',
      "    ['A-02', 'B-01'],",
      '    `two`,',
      '    async (ctx) => {},',
      '  );',
      "  it('helper behaviour without an ID', () => {});",
      '});',
    ].join('\n');
    expect(suiteTests('suites/a.conformance.ts', source)).toEqual([
      { file: 'suites/a.conformance.ts', ids: ['A-01'], test: 'A-01: one' },
      { file: 'suites/a.conformance.ts', ids: ['A-02', 'B-01'], test: 'A-02 B-01: two' },
    ]);
  });

  it('refuses, with file and line, a requirement() it cannot map', () => {
    expect(() => suiteTests('suites/a.conformance.ts', '\nrequirement(ids, "t", f);')).toThrow(
      /^suites\/a\.conformance\.ts:2: requirement\(\) needs a literal array of IDs/,
    );
    expect(() => suiteTests('s.ts', 'requirement(["A-01"], title, f);')).toThrow(/s\.ts:1/);
  });

  it('refuses a plain it/test titled with an ID: it would record no evidence', () => {
    expect(() => suiteTests('s.ts', "it('A-01: looks like evidence', () => {});")).toThrow(
      /s\.ts:1: 'A-01: looks like evidence' is a plain it\(\) titled with a requirement ID/,
    );
    expect(() => suiteTests('s.ts', "test.skip('A-01: x', () => {});")).toThrow(/plain test\(\)/);
  });
});

describe('coverageProblems', () => {
  const registry = [
    req({ id: 'A-01' }),
    req({ id: 'A-02', verification: 'lab' }),
    req({ id: 'C-01', verification: 'manual', suite: null, manual: true }),
  ];
  const t = (file: string, ...ids: string[]) => ({ file, ids, test: `${ids.join(' ')}: x` });

  it('reports nothing when every automatable requirement has a test in its suite', () => {
    expect(coverageProblems(registry, [t('suites/a.conformance.ts', 'A-01', 'A-02')])).toEqual([]);
  });

  it('names an automatable requirement with no test, and one tested only outside its suite', () => {
    expect(coverageProblems(registry, [t('suites/b.conformance.ts', 'A-01')])).toEqual([
      'A-01 is assigned to suites/a.conformance.ts, which has no test for it (tests in suites/b.conformance.ts)',
      'A-02 is lab in the registry but no suite has a test for it',
    ]);
  });

  it('names an unknown ID and a manual requirement that has a test', () => {
    expect(coverageProblems(registry, [t('suites/a.conformance.ts', 'A-01', 'A-02', 'C-01', 'Z-09')])).toEqual([
      "suites/a.conformance.ts: 'A-01 A-02 C-01 Z-09: x' names unknown requirement Z-09",
      'C-01 is manual in the registry but suites/a.conformance.ts has a test for it; make it auto',
    ]);
  });

  it('maps every registry ID, in registry order, to its tests', () => {
    expect(
      buildCoverage(registry, [t('suites/a.conformance.ts', 'A-02'), t('suites/b.conformance.ts', 'A-02')]),
    ).toEqual({
      'A-01': [],
      'A-02': [
        { file: 'suites/a.conformance.ts', test: 'A-02: x' },
        { file: 'suites/b.conformance.ts', test: 'A-02: x' },
      ],
      'C-01': [],
    });
  });
});

describe('the suites against the registry', () => {
  const tests = readSuiteTests(root);

  it('every automatable requirement has a test in the suite the registry names; manual ones have none', () => {
    // Guards against a parser regression that finds no tests and so reports every requirement at once.
    expect(tests.length).toBeGreaterThan(40);
    expect(coverageProblems(requirements, tests)).toEqual([]);
  });
});
