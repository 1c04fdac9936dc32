/**
 * CI sentinel for "never touches what it did not create": `define` puts a domain without the ownership
 * tag, named exactly like the harness's own, on the lab; `check` fails unless its definition is
 * byte-identical after a full run and a sweep; `remove` takes it away again.
 * Usage: node --import tsx scripts/foreign-vm.ts define|check|remove
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { execa } from 'execa';

const name = 'vmc-20200101t0000-f00d-sentinel';
const saved = '/var/lib/vmconform/foreign-sentinel.xml';
const virsh = (...args: string[]) =>
  execa('virsh', ['-c', 'qemu:///system', '-q', ...args], { stdin: 'ignore', reject: false });

const say = (m: string) => process.stdout.write(`[foreign-vm] ${m}\n`);
const cmd = process.argv[2];
if (cmd === 'define') {
  await virsh('undefine', name);
  const xml = `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='q35'>hvm</type></os></domain>`;
  const file = `${saved}.in`;
  await writeFile(file, xml);
  const def = await virsh('define', file);
  await rm(file, { force: true });
  if (def.exitCode !== 0) throw new Error(`virsh define failed: ${def.stderr}`);
  await writeFile(saved, (await virsh('dumpxml', name)).stdout);
  say(`defined ${name} (no ownership tag); its definition is saved in ${saved}`);
} else if (cmd === 'check') {
  const before = await readFile(saved, 'utf8').catch(() => undefined);
  const now = await virsh('dumpxml', name);
  if (before === undefined) throw new Error(`nothing saved at ${saved}: run 'define' first`);
  if (now.exitCode !== 0) {
    say(`FAILED: ${name} is gone: the harness removed a domain it did not create`);
    process.exitCode = 1;
  } else if (now.stdout !== before) {
    say(`FAILED: ${name} changed: the harness modified a domain it did not create`);
    process.exitCode = 1;
  } else say(`${name} is unchanged`);
} else if (cmd === 'remove') {
  await virsh('undefine', name);
  await rm(saved, { force: true });
  say(`removed ${name}`);
} else {
  process.stderr.write('usage: foreign-vm.ts define|check|remove\n');
  process.exitCode = 2;
}
