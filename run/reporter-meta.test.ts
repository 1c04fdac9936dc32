import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { expect, it } from 'vitest';
import { readBundle } from '../evidence/bundle.js';
import { repoRoot } from './vitest-run.js';

// vitest reporters have been seen receiving empty task meta (vitest issue 6326): prove ours gets it.
it("the evidence reporter receives each test's requirement ids, for passed and skipped tests", async () => {
  const out = await mkdtemp('/tmp/vmconform-meta-');
  const res = await execa(
    join(repoRoot, 'node_modules/.bin/vitest'),
    [
      'run',
      '--config',
      join(repoRoot, 'fixtures/reporter-meta/vitest.config.ts'),
      `--reporter=${join(repoRoot, 'run/reporter.ts')}`,
    ],
    {
      cwd: repoRoot,
      reject: false,
      stdin: 'ignore',
      env: { VMCONFORM_OUT: out, VMCONFORM_RUN_ID: 'meta', VMCONFORM_PLATFORM: 'libvirt' },
    },
  );
  expect(res.exitCode, res.stderr).toBe(0);
  // Read through the schema: what the reporter wrote is a valid bundle.
  const results = await readBundle(join(out, 'results.json'));
  expect(results.tests.map((t) => [t.requirements, t.state])).toEqual([
    [['LC-01', 'INS-02'], 'passed'],
    [['OBS-01'], 'skipped'],
  ]);
  expect(results.requirements['OBS-01']?.verdict).toBe('unsupported');
  expect(results.complete).toBe(true);
  expect(results.tests[0]?.file).toBe('fixtures/reporter-meta/meta.fixture.ts');
}, 60_000);
