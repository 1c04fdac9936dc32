/**
 * The bench's direct sequence for libvirt: the lifecycle as a person would script it with plain virsh,
 * with the same domain XML, the same state check and the same 100 ms polling as the harness's run.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Transcript } from '../../evidence/transcript.js';
import { type DirectBaseline, directPoll, waitFor } from '../contract/index.js';
import type { LibvirtPlatformConfig } from './config.js';
import type { LibvirtLabState } from './lab.js';
import { buildDomainXml } from './mapping.js';

export function virshDirect({
  section,
  runId,
  labState,
  transcript,
}: {
  section: LibvirtPlatformConfig;
  runId: string;
  labState: unknown;
  transcript?: Transcript;
}): DirectBaseline | string {
  // The plain-virsh sequence boots the local lab's kernel and reads the console log from this machine's disk.
  if (new URL(section.uri).host || !labState)
    return 'no direct sequence for a remote libvirt host: the plain-virsh sequence needs the local lab (its kernel and console log files)';
  const lab = labState as LibvirtLabState;
  const virsh = async (...args: string[]) => {
    const t0 = performance.now();
    const { stdout } = await execa('virsh', ['-c', 'qemu:///system', '-q', ...args], { stdin: 'ignore' });
    // Written as the harness's own virsh calls are, so the bench can count both alike.
    transcript?.record({
      kind: 'command',
      request: ['virsh', '-c', 'qemu:///system', ...args].join(' '),
      response: stdout,
      ok: true,
      durationMs: performance.now() - t0,
    });
    return stdout;
  };
  return {
    label: 'plain virsh',
    async run(name) {
      const t0 = performance.now();
      const base = (await virsh('vol-path', 'vmc-base-v1', '--pool', 'vmconform-images')).trim();
      await virsh(
        'vol-create-as',
        'vmconform',
        `${name}-boot`,
        '67108864B',
        '--format',
        'qcow2',
        '--backing-vol',
        base,
        '--backing-vol-format',
        'raw',
      );
      const log = join(lab.consoleDir, `${name}.log`);
      const xml = buildDomainXml({
        name,
        vcpus: 1,
        memoryMiB: 256,
        accel: lab.accel,
        kernel: lab.kernel,
        initrd: lab.initrd,
        cmdline: 'console=ttyS0 quiet panic=-1',
        consoleLog: log,
        pool: 'vmconform',
        disks: [{ volume: `${name}-boot`, target: 'vda', serial: 'boot', format: 'qcow2' }],
        nics: [{ network: 'vmconform-net', mac: '52:54:00:be:00:01' }],
        // Tagged like the harness's own, so a sweep removes it if the bench is killed mid-sequence.
        owner: { marker: 'vmconform', runId, createdAt: new Date().toISOString() },
        metadata: {},
        ownedVolumes: [`${name}-`],
      });
      const dir = await mkdtemp(join(tmpdir(), 'bench-'));
      await writeFile(join(dir, 'd.xml'), xml);
      await virsh('define', join(dir, 'd.xml'));
      await rm(dir, { recursive: true });
      await virsh('start', name);
      await waitFor('direct running', directPoll, async () =>
        (await virsh('domstate', name)).trim() === 'running' ? true : undefined,
      );
      await waitFor('direct READY', directPoll, async () =>
        (await readFile(log, 'utf8').catch(() => '')).includes('VMC READY') ? true : undefined,
      );
      await virsh('shutdown', name, '--mode', 'acpi');
      await waitFor('direct shut off', directPoll, async () =>
        (await virsh('domstate', name)).trim() === 'shut off' ? true : undefined,
      );
      await virsh('undefine', name);
      await virsh('vol-delete', `${name}-boot`, '--pool', 'vmconform');
      await rm(log, { force: true });
      return performance.now() - t0;
    },
  };
}
