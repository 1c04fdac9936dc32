/** `vmconform report` exits as --fail-on asks, on fabricated bundles: 0, 1, 2 and 3 each from what it names. */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { Bundle } from '../evidence/bundle.js';
import { allPass, makeBundle, type Spec } from '../evidence/testkit.js';
import { requirements } from '../requirements/registry.js';
import { runCli } from './run-cli.js';

const ids = requirements.filter((r) => r.verification !== 'manual').map((r) => r.id);

async function runFolder(over: Record<string, Spec> = {}): Promise<string> {
  const dir = await mkdtemp('/tmp/vmconform-report-exit-');
  const b: Bundle = makeBundle('libvirt', { ...allPass(ids), ...over });
  await mkdir(join(dir, 'libvirt'));
  await writeFile(join(dir, 'libvirt', 'results.json'), JSON.stringify(b));
  return dir;
}
const report = (...args: string[]) => runCli('report', ...args);

it('report: 0 when the gate asked for holds, 1 when it does not, 3 on an error verdict, 2 on bad input', async () => {
  const pass = await runFolder();
  const ok = await report(pass);
  expect(ok.exitCode, ok.stderr).toBe(0);
  expect(ok.stdout).toMatch(/report: .*report\.html/);
  // The same evidence: its gate is inconclusive (no manual assessments), which --fail-on inconclusive refuses.
  const strict = await report(pass, '--fail-on', 'inconclusive', '--json');
  expect(strict.exitCode, strict.stderr).toBe(1);
  expect(JSON.parse(strict.stdout)).toMatchObject({
    failOn: 'inconclusive',
    failed: ['libvirt: gate inconclusive'],
    platforms: [{ platform: 'libvirt', gate: 'inconclusive' }],
  });
  expect(strict.stderr).toContain('--fail-on inconclusive: libvirt: gate inconclusive');

  const failed = await report(await runFolder({ 'DSK-01': { verdict: 'fail' } }));
  expect(failed.exitCode).toBe(1);
  expect(failed.stderr).toContain('--fail-on fail: libvirt: failed DSK-01');

  const errored = await report(await runFolder({ 'DSK-01': { verdict: 'error' } }));
  expect(errored.exitCode).toBe(3);

  expect((await report(pass, '--fail-on', 'sometimes')).exitCode).toBe(2);
  expect((await report(join(pass, 'nope'))).exitCode).toBe(2);
}, 30_000);
