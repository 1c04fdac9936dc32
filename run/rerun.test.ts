import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { makeBundle } from '../evidence/testkit.js';
import { prepare } from './evaluate.js';
import { namePattern } from './selection.js';

const config = fileURLToPath(new URL('../lab/lab.local.yaml', import.meta.url));
// One failed and one inconclusive requirement; the rest passed. No lab is touched: this is what would run.
const earlier = makeBundle(
  'proxmox',
  { 'LC-01': { verdict: 'fail' }, 'LC-02': { verdict: 'prereq-missing' }, 'LC-03': { verdict: 'pass' } },
  { configHash: null, selected: ['LC-01', 'LC-02', 'LC-03'] },
);
const rerunFrom = [{ source: 'out/a/proxmox/results.json', bundle: earlier }];

test('a rerun of a bundle with one failed and one inconclusive requirement runs exactly those two', async () => {
  const p = await prepare({ config, lab: false, rerunFrom });
  expect(p.chosen).toEqual(['proxmox']);
  const sel = p.selections.get('proxmox');
  expect(sel?.run).toEqual(['LC-01', 'LC-02']);
  // The vitest name filter the run hands over matches exactly those two requirements' tests.
  const re = new RegExp(namePattern(sel?.run ?? []));
  expect(re.test('lifecycle LC-01: create')).toBe(true);
  expect(re.test('lifecycle LC-02: start')).toBe(true);
  expect(re.test('lifecycle LC-03: stop')).toBe(false);
});

test('--rerun-verdicts narrows the rerun; nothing to rerun leaves the platform out; another config is refused', async () => {
  expect(
    (await prepare({ config, lab: false, rerunFrom, rerunVerdicts: ['fail'] })).selections.get('proxmox')?.run,
  ).toEqual(['LC-01']);
  const none = await prepare({ config, lab: false, rerunFrom, rerunVerdicts: ['error'] });
  expect(none.chosen).toEqual([]);
  expect(none.nothingToRerun).toEqual(['proxmox']);
  await expect(
    prepare({
      config,
      lab: false,
      rerunFrom: [{ ...rerunFrom[0], bundle: { ...earlier, configHash: 'other' } }],
    } as never),
  ).rejects.toThrow(/another lab config/);
  await expect(prepare({ config, lab: false, rerunFrom, platform: ['libvirt'] })).rejects.toThrow(/no libvirt bundle/);
});
