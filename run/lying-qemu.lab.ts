/**
 * A platform that tells its API one thing and gives the guest another must fail the requirements that
 * declare the property. The lying platform: the libvirt lab with a QEMU wrapper, named as <emulator> in
 * the domains of one run only (platforms.libvirt.emulator in a copy of the lab config), that gives the
 * guest half the declared memory, other MACs and other data disk serials than the domain XML says.
 * Nothing global changes; the wrapper is removed afterwards, also on failure or Ctrl-C.
 */
import { rmSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { virsh } from './lab-fixtures.js';
import { repoRoot } from './vitest-run.js';

/** The emulator libvirt would use: the wrapper execs it with the tampered arguments. */
async function realEmulator(): Promise<string> {
  const caps = await virsh('domcapabilities', '--virttype', 'qemu', '--arch', 'x86_64');
  return /<path>([^<]+)<\/path>/.exec(caps.stdout)?.[1] ?? '/usr/bin/qemu-system-x86_64';
}

it('a QEMU giving the guest less memory, other MACs and other disk serials fails LC-01, LC-02, LC-04 and INS-02, naming each', async () => {
  const dir = await mkdtemp('/tmp/vmconform-lying-qemu-');
  // The wrapper goes with the folder; Ctrl-C or a kill removes it too before the process ends.
  const remove = () => rmSync(dir, { recursive: true, force: true });
  const onSignal = (sig: NodeJS.Signals) => {
    remove();
    process.kill(process.pid, sig);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // libvirt runs the emulator as its qemu user: the folder and the script must be readable by it.
    await chmod(dir, 0o755);
    const emulator = join(dir, 'qemu-system-x86_64');
    const script = await readFile(join(repoRoot, 'run/lying-qemu.sh'), 'utf8');
    await writeFile(emulator, script.replaceAll('@REAL@', await realEmulator()), { mode: 0o755 });
    const doc = parseDocument(await readFile(join(repoRoot, 'lab/lab.local.yaml'), 'utf8'));
    doc.setIn(['platforms', 'libvirt', 'emulator'], emulator);
    doc.set('outputDir', join(dir, 'out'));
    const config = join(dir, 'lab.yaml');
    await writeFile(config, doc.toString());

    const run = await execa(
      'node',
      [
        join(repoRoot, 'scripts/bin.mjs'),
        'evaluate',
        '-c',
        config,
        '-p',
        'libvirt',
        '--no-lab',
        '-r',
        'LC-0[124]|INS-02',
      ],
      { cwd: repoRoot, stdin: 'ignore', reject: false },
    );
    const [runId] = await readdir(join(dir, 'out'));
    const bundle = JSON.parse(await readFile(join(dir, 'out', runId as string, 'libvirt', 'results.json'), 'utf8')) as {
      requirements: Record<string, { verdict: string; reason?: string }>;
    };
    const reasons = Object.fromEntries(Object.entries(bundle.requirements).map(([id, r]) => [id, r.reason ?? '']));
    // Shown with the test's output: the failure messages are the evidence a reader needs.
    console.log(
      Object.entries(bundle.requirements)
        .map(([id, r]) => `${id} ${r.verdict}: ${r.reason ?? ''}`)
        .join('\n'),
    );
    for (const id of ['LC-01', 'LC-02', 'LC-04', 'INS-02'])
      expect(bundle.requirements[id]?.verdict, `${id}\n${run.stdout}`).toBe('fail');
    for (const id of ['LC-01', 'LC-02', 'INS-02'])
      expect(reasons[id]).toMatch(
        /memory \(MiB\): declared vs guest: declared (320|256), got (160|128) \(firmware map:/,
      );
    expect(reasons['LC-04']).toMatch(/memory \(MiB\) after reboot: declared vs guest: declared 320, got 160/);
    for (const id of ['LC-01', 'LC-02'])
      expect(reasons[id]).toContain(
        "NIC MACs in order: declared vs guest: declared [ '52:54:00:10:00:01', '52:54:00:10:00:02' ], got [ '52:54:01:10:00:01', '52:54:01:10:00:02' ]",
      );
    for (const id of ['LC-01', 'LC-02', 'INS-02'])
      expect(reasons[id]).toMatch(
        /disk data1 size \(bytes\): declared vs guest: declared \d+, got 'not seen' \(the guest sees: boot, data1-x/,
      );
    // The API's read-back still says what was declared: only the guest tells.
    expect(reasons['LC-01']).not.toMatch(/memoryMiB|NIC MACs in order: expected/);
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    remove();
  }
  // Nothing of the wrapper is left, and no domain of that run names it.
  expect(await readdir('/tmp')).not.toContain(dir.slice('/tmp/'.length));
  const left = await execa('grep', ['-rl', dir, '/etc/libvirt/qemu', '/var/lib/vmconform/libvirt'], { reject: false });
  expect(left.stdout).toBe('');
}, 900_000);
