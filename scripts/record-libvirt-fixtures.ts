/**
 * Re-records the libvirt fixtures the unit tests parse (fixtures/libvirt/): real output of this
 * host's libvirt for an owned domain, so parsing is tested on what libvirt really prints.
 * Usage (lab up first): node scripts/bin.mjs lab up libvirt && npx tsx scripts/record-libvirt-fixtures.ts
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { loadLabConfig } from '../adapters/lab-config.js';
import { connectTarget } from '../adapters/platforms.js';
import { Transcript } from '../evidence/transcript.js';
import { repoRoot } from '../run/vitest-run.js';

const dir = join(repoRoot, 'fixtures/libvirt');
await mkdir(dir, { recursive: true });
const virsh = async (...args: string[]) =>
  (await execa('virsh', ['-c', 'qemu:///system', '-q', ...args], { stdin: 'ignore' })).stdout;
const { config } = await loadLabConfig(join(repoRoot, 'lab/lab.local.yaml'));
const t = await connectTarget('libvirt', config.platforms, { runId: 'fixture', transcript: new Transcript() });
const events = execa('virsh', ['-c', 'qemu:///system', 'event', '--all', '--loop', '--timestamp'], {
  stdin: 'ignore',
  reject: false,
});
const vm = (
  await t.driver.create({
    name: 'vmc-fixture-rec',
    vcpus: 1,
    memoryMiB: 256,
    image: t.lab.image,
    disks: [{ name: 'data1', sizeBytes: 16 * 1024 * 1024 }],
    nics: [
      { network: t.lab.network, mac: '52:54:00:aa:00:01' },
      { network: t.lab.externalBridge ?? 'vmc-ext0', external: true, mac: '52:54:00:aa:00:02' },
    ],
    metadata: { tenant: 'acme', project: 'web', environment: 'prod', 'sentral-id': 'vm-0042' },
    placement: { site: 'site-a', failureDomain: 'rack-1' },
  })
).result;
try {
  await writeFile(join(dir, 'domstate-shutoff.txt'), await virsh('domstate', vm.id));
  await t.driver.start(vm);
  await writeFile(join(dir, 'dumpxml-running.xml'), await virsh('dumpxml', vm.id));
  await writeFile(join(dir, 'domstate-running.txt'), await virsh('domstate', vm.id));
  await writeFile(
    join(dir, 'vol-dumpxml-boot.xml'),
    await virsh('vol-dumpxml', 'vmc-fixture-rec-boot', '--pool', 'vmconform'),
  );
  await writeFile(join(dir, 'domstats.txt'), await virsh('domstats', '--list-active', '--vcpu', '--balloon'));
  await writeFile(join(dir, 'capabilities.xml'), await virsh('capabilities'));
  await writeFile(join(dir, 'version.txt'), await virsh('version', '--daemon'));
  await writeFile(
    join(dir, 'domstats-full.txt'),
    await virsh('domstats', vm.id, '--cpu-total', '--balloon', '--block', '--interface'),
  );
  await writeFile(join(dir, 'pool-dumpxml.xml'), await virsh('pool-dumpxml', 'vmconform'));
  await writeFile(join(dir, 'nodecpustats.txt'), await virsh('nodecpustats'));
  await writeFile(join(dir, 'nodememstats.txt'), await virsh('nodememstats'));
  await t.driver.stop(vm, { force: true });
} finally {
  await t.driver.delete(vm);
  events.kill();
}
await writeFile(join(dir, 'events.txt'), (await events).stdout);
process.stdout.write(`recorded libvirt fixtures in ${dir}\n`);
