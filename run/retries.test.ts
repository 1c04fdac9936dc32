import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { outcomeOfAttempts } from '../evidence/attempts.js';
import { readBundle } from '../evidence/bundle.js';
import { repoRoot } from './vitest-run.js';

const fail = { verdict: 'fail' as const, reasonCode: 'check-failed', reason: 'x' };

describe('retries', () => {
  it('a pass after a failed attempt is flaky; the last attempt stands otherwise', () => {
    expect(outcomeOfAttempts([fail, { verdict: 'pass' }])).toMatchObject({
      verdict: 'flaky',
      reasonCode: 'passed-on-retry',
      reason: 'Passed only on attempt 2 of 2; before: fail: x',
    });
    expect(outcomeOfAttempts([fail, { verdict: 'simulated' }]).verdict).toBe('flaky');
    expect(outcomeOfAttempts([fail, fail, fail])).toEqual(fail);
    expect(outcomeOfAttempts([{ verdict: 'pass' }])).toEqual({ verdict: 'pass' });
  });

  // Through vitest's own --retry (what evaluate --retries passes) and the evidence reporter.
  it('a requirement made to fail once and pass on retry is flaky in the bundle, with every attempt', async () => {
    const out = await mkdtemp('/tmp/vmconform-retry-');
    const res = await execa(
      join(repoRoot, 'node_modules/.bin/vitest'),
      [
        'run',
        '--config',
        join(repoRoot, 'fixtures/retry/vitest.config.ts'),
        '--retry',
        '2',
        `--reporter=${join(repoRoot, 'run/reporter.ts')}`,
      ],
      {
        cwd: repoRoot,
        reject: false,
        stdin: 'ignore',
        env: { VMCONFORM_OUT: out, VMCONFORM_RUN_ID: 'retry', VMCONFORM_PLATFORM: 'libvirt' },
      },
    );
    expect(res.exitCode, res.stderr).toBe(1);
    const b = await readBundle(join(out, 'results.json'));
    const byReq = (id: string) => b.tests.find((t) => t.requirements.includes(id));
    expect(b.requirements['LC-01']?.verdict).toBe('flaky');
    expect(byReq('LC-01')?.state).toBe('passed');
    expect(byReq('LC-01')?.attempts?.map((a) => a.outcome.verdict)).toEqual(['fail', 'pass']);
    expect(b.requirements['LC-02']?.verdict).toBe('fail');
    expect(byReq('LC-02')?.attempts?.map((a) => a.outcome.verdict)).toEqual(['fail', 'fail', 'fail']);
    expect(b.requirements['LC-03']?.verdict).toBe('pass');
    expect(byReq('LC-03')?.attempts).toBeUndefined();
  }, 60_000);
});
