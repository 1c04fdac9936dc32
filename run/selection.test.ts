import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { ConfigInvalid } from '../evidence/errors.js';
import { requirements } from '../requirements/registry.js';
import { taggedFiles } from '../requirements/tagged.js';
import { namePattern, quietSplit, resolveIds, select } from './selection.js';

const catalogue = ['LC-01', 'LC-02', 'LC-10', 'DSK-01', 'NIC-01', 'COM-01'].map((id) => ({ id }));
const tagged = new Map([
  ['LC-01', ['suites/lc.conformance.ts']],
  ['LC-02', ['suites/lc.conformance.ts']],
  ['LC-10', ['suites/lc.conformance.ts', 'suites/x.conformance.ts']],
  ['DSK-01', ['suites/dsk.conformance.ts']],
  ['NIC-01', ['suites/nic.conformance.ts']],
]);

describe('requirement selection by id', () => {
  test('exact ids, prefixes and regexes over ids, comma-separated, in catalogue order', () => {
    expect(resolveIds('LC-01', '-r', catalogue)).toEqual(['LC-01']);
    expect(resolveIds('lc-01', '-r', catalogue)).toEqual(['LC-01']);
    expect(resolveIds('LC-', '-r', catalogue)).toEqual(['LC-01', 'LC-02', 'LC-10']);
    expect(resolveIds('LC-0', '-r', catalogue)).toEqual(['LC-01', 'LC-02']);
    expect(resolveIds('^LC-01$', '-r', catalogue)).toEqual(['LC-01']);
    expect(resolveIds('DSK|NIC', '-r', catalogue)).toEqual(['DSK-01', 'NIC-01']);
    expect(resolveIds('NIC-01, LC-02', '-r', catalogue)).toEqual(['LC-02', 'NIC-01']);
    expect(resolveIds('^LC-0[1-2]{1,2}$', '-r', catalogue)).toEqual(['LC-01', 'LC-02']);
  });

  test('a term that names no id, or is not a regex, is bad input naming the term', () => {
    expect(() => resolveIds('LC-01,XYZ-', '-r', catalogue)).toThrow(ConfigInvalid);
    expect(() => resolveIds('LC-01,XYZ-', '-r', catalogue)).toThrow(/'XYZ-' matches no requirement id/);
    expect(() => resolveIds('(', '--skip', catalogue)).toThrow(/--skip '\(': not a requirement id/);
    expect(() => resolveIds(' , ', '-r', catalogue)).toThrow(ConfigInvalid);
  });

  test('--skip excludes, unselected ones are named apart, untested ones never run', () => {
    const s = select({ requirement: 'LC-,COM-01', skip: 'LC-02' }, catalogue, tagged);
    expect(s.run).toEqual(['LC-01', 'LC-10']);
    expect(s.files).toEqual(['suites/lc.conformance.ts', 'suites/x.conformance.ts']);
    expect(s.noTest).toEqual(['COM-01']);
    expect(s.skipped).toEqual([
      { id: 'LC-02', why: 'skip' },
      { id: 'DSK-01', why: 'not-selected' },
      { id: 'NIC-01', why: 'not-selected' },
    ]);
    expect(s.narrowed).toBe(true);
    expect(select({}, catalogue, tagged)).toMatchObject({
      run: ['LC-01', 'LC-02', 'LC-10', 'DSK-01', 'NIC-01'],
      narrowed: false,
    });
    expect(() => select({ requirement: 'COM-' }, catalogue, tagged)).toThrow(
      /runs nothing \(no test is tagged with COM-01/,
    );
  });

  test('the name filter matches the id list of a test title only, never a describe or the title words', () => {
    const re = new RegExp(namePattern(['LC-01', 'DSK-01']));
    expect(re.test('lifecycle LC-01: create from a declared spec')).toBe(true);
    expect(re.test('disks LC-05 DSK-01 NIC-02: attach')).toBe(true);
    expect(re.test('lifecycle LC-010: other')).toBe(false);
    expect(re.test('lifecycle LC-02: unlike LC-01: it stops')).toBe(false);
    expect(re.test('LC-01 lifecycle LC-02: create')).toBe(false);
    expect(re.test('LC-01: no describe')).toBe(true);
  });

  test('a concurrent run splits off the quiet requirements: any test tagged with one runs in the quiet pass only', () => {
    const s = select({ requirement: 'LC-,NIC-01' }, catalogue, tagged);
    const split = quietSplit(s, ['LC-10', 'DSK-01'], tagged);
    expect(split?.quiet.ids).toEqual(['LC-10']);
    expect(split?.quiet.files).toEqual(['suites/lc.conformance.ts', 'suites/x.conformance.ts']);
    expect(split?.main?.files).toEqual(['suites/lc.conformance.ts', 'suites/nic.conformance.ts']);
    const main = new RegExp(split?.main?.namePattern ?? '');
    const quiet = new RegExp(split?.quiet.namePattern ?? '');
    for (const [name, inMain, inQuiet] of [
      ['lifecycle LC-01: create', true, false],
      ['lifecycle LC-01 LC-10: create and time', false, true],
      ['predictability LC-10: spread', false, true],
      ['nics NIC-01: chosen MACs', true, false],
      ['disks DSK-01: not selected', false, false],
    ] as const) {
      expect(main.test(name), name).toBe(inMain);
      expect(quiet.test(name), name).toBe(inQuiet);
    }
    // The whole catalogue: the first pass is every test but the quiet ones, over every file.
    const all = quietSplit(select({}, catalogue, tagged), ['DSK-01'], tagged);
    expect(all?.main?.files).toEqual([]);
    expect(new RegExp(all?.main?.namePattern ?? '').test('disks DSK-01: attach')).toBe(false);
    expect(new RegExp(all?.main?.namePattern ?? '').test('a unit test, untagged')).toBe(true);
    // Only quiet ones selected: no first pass; none selected: no split at all.
    expect(quietSplit(select({ requirement: 'DSK-01' }, catalogue, tagged), ['DSK-01'], tagged)?.main).toBeUndefined();
    expect(quietSplit(select({ requirement: 'LC-01' }, catalogue, tagged), ['DSK-01'], tagged)).toBeUndefined();
  });

  test("describe titles hold no ': ' (the name filter finds a test's id list by the first one)", () => {
    const dir = new URL('../suites/', import.meta.url);
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.conformance.ts')))
      for (const m of readFileSync(new URL(f, dir), 'utf8').matchAll(/describe\(\s*(['"`])(.*?)\1/g))
        expect(m[2], f).not.toContain(': ');
  });

  test('tags are read from the suites: every one is a requirement id, and each can be selected alone', () => {
    const ids = taggedFiles();
    expect(ids.size).toBeGreaterThan(40);
    expect(ids.get('LC-01')).toEqual(['suites/lifecycle.conformance.ts']);
    for (const id of ids.keys()) {
      expect(requirements.map((r) => r.id)).toContain(id);
      expect(select({ requirement: id }).run).toEqual([id]);
    }
  });
});
