import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { sourceDigest } from './source-digest.js';

test('the digest changes with a source file, not with a test file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vmc-digest-'));
  try {
    await writeFile(join(dir, 'sim.ts'), 'export const a = 1;\n');
    const first = await sourceDigest(dir);
    expect(await sourceDigest(dir)).toBe(first);
    await writeFile(join(dir, 'sim.test.ts'), 'test();\n');
    expect(await sourceDigest(dir)).toBe(first);
    await writeFile(join(dir, 'sim.ts'), 'export const a = 2;\n');
    expect(await sourceDigest(dir)).not.toBe(first);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
