/**
 * Exit codes of a whole evaluation, each from the situation it names: a platform that cannot be reached
 * exits 3 (the harness's or the lab's, not the platform's finding); SIGINT exits 130 and SIGTERM 143.
 * The interrupts run against the Proxmox simulator (fast, nothing left on a real platform).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './vitest-run.js';

const bin = join(repoRoot, 'scripts/bin.mjs');

describe('evaluate exit codes', () => {
  it('a platform nothing listens for exits 3', async () => {
    const dir = await mkdtemp('/tmp/vmconform-exit-');
    await writeFile(join(dir, 'token'), 'not-a-real-token');
    await writeFile(
      join(dir, 'lab.yaml'),
      [
        `outputDir: ${join(dir, 'out')}`,
        'platforms:',
        '  proxmox:',
        // Port 1 on loopback: refused at once.
        '    url: https://127.0.0.1:1/api2/json',
        '    node: pve1',
        '    tokenId: root@pam!vmconform',
        `    tokenSecret: { file: ${join(dir, 'token')} }`,
        `    tls: { fingerprint256: "${Array(32).fill('AB').join(':')}" }`,
        '    storage: local-lvm',
        '    pool: vmconform',
        '    image: vmc-base-v1',
        '    network: vmbr0',
      ].join('\n'),
    );
    const r = await execa('node', [bin, 'evaluate', '-c', join(dir, 'lab.yaml'), '--no-lab', '-r', 'LC-01'], {
      cwd: repoRoot,
      stdin: 'ignore',
      reject: false,
    });
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toContain('ECONNREFUSED');
  });

  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)
    it(`${signal} while the suites run exits ${code}`, async () => {
      const out = await mkdtemp('/tmp/vmconform-exit-');
      const child = execa('node', [bin, 'evaluate', '-p', 'proxmox', '-r', 'LC-', '--no-lab', '-o', out], {
        cwd: repoRoot,
        stdin: 'ignore',
        reject: false,
        buffer: true,
      });
      // Once vitest is running the suites: its output is progress, on stderr.
      await new Promise<void>((ok) => {
        let seen = '';
        child.stderr?.on('data', (b: Buffer) => {
          seen += b.toString();
          if (/evaluating proxmox/.test(seen) && /RUN/.test(seen)) ok();
        });
        void child.finally(() => ok());
      });
      child.kill(signal);
      const r = await child;
      expect(r.exitCode, r.stderr).toBe(code);
    });
});
