/** Shared by the lab-harness tests: virsh and the CLI without a TTY, and a foreign domain the harness did not create. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect } from 'vitest';
import { repoRoot } from './vitest-run.js';

export const virsh = (...args: string[]) =>
  execa('virsh', ['-c', 'qemu:///system', '-q', ...args], { stdin: 'ignore', reject: false });

export const cli = (...args: string[]) =>
  execa('node', [join(repoRoot, 'scripts/bin.mjs'), ...args], { cwd: repoRoot, stdin: 'ignore', reject: false });

/**
 * Defines a domain with no ownership tag under `name` (named like the harness's own) for the file's
 * tests and removes it after; `xml()` is its definition as first read, to compare against.
 */
export function foreignDomain(name: string, before?: () => Promise<unknown>): { xml: () => string } {
  let xml = '';
  beforeAll(async () => {
    await before?.();
    const dir = await mkdtemp('/tmp/vmconform-foreign-');
    await writeFile(
      join(dir, 'd.xml'),
      `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='q35'>hvm</type></os></domain>`,
    );
    await virsh('undefine', name);
    expect((await virsh('define', join(dir, 'd.xml'))).exitCode).toBe(0);
    await rm(dir, { recursive: true, force: true });
    xml = (await virsh('dumpxml', name)).stdout;
  });
  afterAll(async () => {
    await virsh('undefine', name);
  });
  return { xml: () => xml };
}
