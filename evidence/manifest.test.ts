import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { manifestName, signatureName, verificationLines, verifyRun, writeManifest } from './manifest.js';
import { makeBundle } from './testkit.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A run folder as evaluate leaves it: a bundle (with transcripts), leak check, report. */
async function runFolder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vmconform-manifest-'));
  dirs.push(dir);
  await mkdir(join(dir, 'libvirt'));
  const b = makeBundle('libvirt', { 'LC-01': { verdict: 'pass' }, 'LC-02': { verdict: 'fail' } });
  await writeFile(join(dir, 'libvirt', 'results.json'), JSON.stringify(b, null, 2));
  await writeFile(join(dir, 'libvirt', 'leaks.json'), '{"before":[],"after":[],"remaining":[]}');
  await writeFile(join(dir, 'report.html'), '<html></html>');
  return dir;
}

function keyPair(dir: string, name: string): { priv: string; pub: string } {
  const priv = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', priv]);
  return { priv, pub: `${priv}.pub` };
}

describe('the run manifest', () => {
  it('lists every file with its sha256; an untouched run verifies intact', async () => {
    const dir = await runFolder();
    const m = await writeManifest(dir);
    expect(Object.keys(m.files)).toEqual(['libvirt/leaks.json', 'libvirt/results.json', 'report.html']);
    expect(m.files['report.html']?.sha256).toMatch(/^[0-9a-f]{64}$/);
    const v = await verifyRun(dir);
    expect(v).toMatchObject({ intact: true, changed: [], missing: [], extra: [], signature: 'none' });
    expect(verificationLines(v).at(-1)).toBe(`intact: 3 files match ${manifestName}`);
  });

  it('one flipped byte in a transcript names that file; a deleted file is missing, a new one extra', async () => {
    const dir = await runFolder();
    await writeManifest(dir);
    const path = join(dir, 'libvirt', 'results.json');
    const data = await readFile(path);
    const at = data.indexOf('Domain started');
    expect(at).toBeGreaterThan(0);
    data.writeUInt8(data.readUInt8(at) ^ 0x01, at);
    await writeFile(path, data);
    await rm(join(dir, 'libvirt', 'leaks.json'));
    await writeFile(join(dir, 'libvirt', 'added.txt'), 'x');
    const v = await verifyRun(dir);
    expect(v).toMatchObject({
      intact: false,
      changed: ['libvirt/results.json'],
      missing: ['libvirt/leaks.json'],
      extra: ['libvirt/added.txt'],
    });
    const lines = verificationLines(v);
    expect(lines).toContain('changed: libvirt/results.json (its sha256 differs from the manifest)');
    expect(lines).toContain('missing: libvirt/leaks.json (in the manifest, not in the run folder)');
    expect(lines.at(-1)).toBe('NOT INTACT: 1 changed, 1 missing, 1 extra (manifest lists 3 files)');
  });

  it('a folder without a manifest is not verified', async () => {
    const dir = await runFolder();
    const v = await verifyRun(dir);
    expect(v.intact).toBe(false);
    expect(verificationLines(v)[0]).toMatch(/never sealed/);
  });

  it('a signed run verifies with its public key and fails with another key or a changed manifest', async () => {
    const dir = await runFolder();
    const keys = await mkdtemp(join(tmpdir(), 'vmconform-keys-'));
    dirs.push(keys);
    const mine = keyPair(keys, 'mine');
    const other = keyPair(keys, 'other');
    await writeManifest(dir, { signKey: mine.priv });
    expect((await readFile(join(dir, signatureName), 'utf8')).startsWith('-----BEGIN SSH SIGNATURE-----')).toBe(true);
    expect(await verifyRun(dir, { publicKey: mine.pub })).toMatchObject({ intact: true, signature: 'valid' });
    expect(await verifyRun(dir)).toMatchObject({ intact: true, signature: 'unchecked' });
    const wrong = await verifyRun(dir, { publicKey: other.pub });
    expect(wrong).toMatchObject({ intact: false, signature: 'invalid', changed: [] });
    expect(verificationLines(wrong).at(-1)).toMatch(/NOT INTACT: signature invalid/);
    // Re-hashing a tampered file into the manifest breaks the signature.
    const m = JSON.parse(await readFile(join(dir, manifestName), 'utf8'));
    m.files['report.html'].bytes += 1;
    await writeFile(join(dir, manifestName), JSON.stringify(m));
    expect(await verifyRun(dir, { publicKey: mine.pub })).toMatchObject({ intact: false, signature: 'invalid' });
    // An unsigned run asked to verify against a key has a missing signature.
    const unsigned = await runFolder();
    await writeManifest(unsigned);
    expect(await verifyRun(unsigned, { publicKey: mine.pub })).toMatchObject({ intact: false, signature: 'missing' });
  });
});
