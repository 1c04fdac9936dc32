/** Secrets in the CLI's own output: a registered canary never reaches stdout or stderr, stack traces included. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../run/vitest-run.js';

const canary = 'canary-cli-4e2f9b7d';

describe('CLI error output', () => {
  it('redacts a registered secret from error messages and --debug stacks', async () => {
    const dir = await mkdtemp('/tmp/vmconform-cli-');
    const cfg = join(dir, 'lab.yaml');
    await writeFile(cfg, 'secrets:\n  - env: VMCONFORM_CLI_CANARY\nplatforms:\n  libvirt: {}\n');
    // The canary reaches an error message through a filter that echoes its input.
    const r = await execa(
      'node',
      [join(repoRoot, 'scripts/bin.mjs'), '--debug', 'evaluate', '--no-lab', '-c', cfg, '-r', `${canary}-x`],
      { reject: false, stdin: 'ignore', env: { VMCONFORM_CLI_CANARY: canary }, cwd: repoRoot },
    );
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("--requirement '[REDACTED]-x' matches no requirement id");
    expect(r.stderr).toContain('at '); // the --debug stack was printed, redacted
    expect(r.stdout + r.stderr).not.toContain(canary);
  }, 30_000);
});
