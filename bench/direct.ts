/**
 * The bench's direct sequences: the lifecycle as a person would script it without vmconform (plain virsh,
 * raw Incus REST calls), with the same XML or request bodies, the same state check and the same 100 ms
 * polling, so the overhead ratio compares like with like.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Platform, Target } from '../adapters/contract/driver.js';
import type { IncusDriver } from '../adapters/incus/adapter.js';
import type { LabConfig } from '../adapters/lab-config.js';
import type { LibvirtLabState } from '../adapters/libvirt/lab.js';
import { buildDomainXml } from '../adapters/libvirt/mapping.js';
import { waitFor } from '../host/wait.js';
import { benchPoll } from './lifecycle.js';

export interface DirectContext {
  t: Target;
  runId: string;
  config: LabConfig;
  /** The platform lab's recorded state (lab status), when the platform has a local lab. */
  labState: unknown;
}

export interface Direct {
  /** What the direct sequence is, shown beside the ratio. */
  label: string;
  /** One whole lifecycle; returns its wall time in ms. */
  run(name: string): Promise<number>;
}

/** Each platform's direct sequence, or why it has none (then there is no overhead figure). */
export const directs: Record<Platform, (ctx: DirectContext) => Direct | string> = {
  libvirt: virshDirect,
  incus: incusRestDirect,
  proxmox: () =>
    'no direct sequence built: against the simulator the ratio would be the adapter over raw REST calls to a simulator, not to Proxmox VE',
  openstack: () =>
    'no direct sequence built: against the simulator the ratio would be the adapter over raw REST calls to a simulator, not to OpenStack',
};

/** True when the libvirt config points at this machine's libvirtd (a URI without a host). */
export const localLibvirt = (config: LabConfig): boolean =>
  !new URL(config.platforms.libvirt?.uri ?? 'qemu:///system').host;

function virshDirect({ runId, labState, config }: DirectContext): Direct | string {
  // The plain-virsh sequence boots the local lab's kernel and reads the console log from this machine's disk.
  if (!localLibvirt(config) || !labState)
    return 'no direct sequence for a remote libvirt host: the plain-virsh sequence needs the local lab (its kernel and console log files)';
  const lab = labState as LibvirtLabState;
  const virsh = async (...args: string[]) =>
    (await execa('virsh', ['-c', 'qemu:///system', '-q', ...args], { stdin: 'ignore' })).stdout;
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
      await waitFor('direct running', benchPoll, async () =>
        (await virsh('domstate', name)).trim() === 'running' ? true : undefined,
      );
      await waitFor('direct READY', benchPoll, async () =>
        (await readFile(log, 'utf8').catch(() => '')).includes('VMC READY') ? true : undefined,
      );
      await virsh('shutdown', name, '--mode', 'acpi');
      await waitFor('direct shut off', benchPoll, async () =>
        (await virsh('domstate', name)).trim() === 'shut off' ? true : undefined,
      );
      await virsh('undefine', name);
      await virsh('vol-delete', `${name}-boot`, '--pool', 'vmconform');
      await rm(log, { force: true });
      return performance.now() - t0;
    },
  };
}

function incusRestDirect({ t, runId, config }: DirectContext): Direct {
  const driver = t.driver as IncusDriver;
  const client = driver.client;
  const ownerConfig = { 'user.vmconform.marker': 'vmconform', 'user.vmconform.run': runId };
  return {
    label: 'raw REST',
    async run(name) {
      const t0 = performance.now();
      const type = (await driver.capabilities()).instanceType === 'vm' ? 'virtual-machine' : 'container';
      await client.async('POST', '/1.0/instances', {
        json: {
          name,
          type,
          source: { type: 'image', alias: t.lab.image },
          config: { 'limits.cpu': '1', 'limits.memory': '256MiB', ...ownerConfig },
          devices: {
            root: { type: 'disk', path: '/', pool: config.platforms.incus?.pool ?? 'vmconform' },
            eth0: { type: 'nic', network: t.lab.network, hwaddr: '52:54:00:be:01:01', name: 'eth0' },
          },
        },
      });
      await client.async('PUT', `/1.0/instances/${name}/state`, { json: { action: 'start' } });
      await waitFor('direct running', benchPoll, async () => {
        const r = await client.raw('GET', `/1.0/instances/${name}/state`);
        return (JSON.parse(r.text) as { metadata?: { status?: string } }).metadata?.status === 'Running'
          ? true
          : undefined;
      });
      await waitFor('direct READY', benchPoll, async () => {
        const r = await client
          .raw('GET', `/1.0/instances/${name}/files`, { query: { path: '/var/log/vmc/console.log' } })
          .catch(() => undefined);
        return r?.text.includes('VMC READY') ? true : undefined;
      });
      await client.async('PUT', `/1.0/instances/${name}/state`, { json: { action: 'stop', timeout: 60 } });
      await client.async('DELETE', `/1.0/instances/${name}`);
      return performance.now() - t0;
    },
  };
}
