import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { lastBoot, lastState } from '../../host/guest/report.js';
import {
  agentReport,
  buildNet,
  buildTags,
  type ClusterResource,
  decodeTagValue,
  encodeTagValue,
  hostsFromResources,
  mapPowerState,
  parseConfig,
  parseDescription,
  parseSize,
  parseTags,
  parseTaskStatus,
  parseUpid,
  parseVersion,
  resizeReturnsUpid,
} from './mapping.js';
import { checkReturn, loadSchema } from './simulator/schema.js';

const fixture = <T>(name: string): T =>
  JSON.parse(readFileSync(new URL(`../../fixtures/proxmox/${name}`, import.meta.url), 'utf8')) as T;
const schema = loadSchema();
const returns = (key: string) => schema.endpoints[key]?.returns ?? {};

const config = fixture<{ data: Record<string, string> }>('qemu-config.json').data;
const resources = fixture<{ data: ClusterResource[] }>('cluster-resources.json').data;
const tasks = fixture<Record<string, { data: unknown }>>('tasks.json');
const agent = fixture<{
  'file-read': { data: { content: string } };
  'network-get-interfaces': { data: { result: never[] } };
}>('agent.json');

describe('recorded payloads match the official schema', () => {
  test.each([
    ['GET /nodes/{node}/qemu/{vmid}/config', config],
    ['GET /cluster/resources', resources],
    ['GET /version', tasks['version-8']?.data],
    ['GET /version', tasks['version-7']?.data],
    ['GET /nodes/{node}/tasks/{upid}/status', tasks['status-failed']?.data],
    ['GET /nodes/{node}/tasks/{upid}/log', tasks['log-failed']?.data],
    ['GET /nodes/{node}/qemu/{vmid}/agent/file-read', agent['file-read'].data],
  ])('%s', (key, data) => {
    expect(schema.endpoints[key]).toBeDefined();
    expect(checkReturn(returns(key), data)).toBeUndefined();
  });

  test('a payload of the wrong shape is caught', () => {
    expect(checkReturn(returns('GET /nodes/{node}/tasks/{upid}/status'), { status: 'stopped' })).toMatch(/missing/);
  });
});

describe('VM config', () => {
  const c = parseConfig(config, ['vmc-ext0']);
  test('cpu, memory, metadata, owner and placement', () => {
    expect(c.vcpus).toBe(2);
    expect(c.memoryMiB).toBe(320);
    expect(c.metadata).toEqual({ tenant: 'acme', project: 'web', environment: 'prod', 'sentral-id': 'vm-0001' });
    expect(c.owner).toEqual({
      marker: 'vmconform',
      runId: '20261125t0015-2bf0',
      createdAt: '2026-11-25T00:15:03.120Z',
    });
    expect(c.placement).toEqual({ site: 'oslo sentrum' });
  });

  test('disks in slot order with guest names; cloud-init and unused volumes are not disks', () => {
    expect(c.disks.map((d) => [d.id, d.target, d.serial, d.sizeBytes, d.role])).toEqual([
      ['virtio0', 'vda', 'boot', 64 * 2 ** 20, 'boot'],
      ['virtio1', 'vdb', 'data1', 32 * 2 ** 20, 'data'],
    ]);
    expect(c.disks[0]?.volumeId).toBe('local-lvm:base-9000-disk-0/vm-101-disk-0');
  });

  test('NICs with MAC (lower case), bridge and VLAN tag', () => {
    expect(c.nics.map((n) => [n.index, n.mac, n.network, n.vlan, n.model])).toEqual([
      [0, '52:54:00:10:00:01', 'vmbr0', undefined, 'virtio'],
      [1, '52:54:00:10:00:02', 'vmbr1', 20, 'virtio'],
    ]);
    expect(buildNet({ mac: '52:54:00:10:00:02', network: 'vmbr1', vlan: 20 })).toBe(
      'virtio=52:54:00:10:00:02,bridge=vmbr1,tag=20',
    );
  });

  test('a description without the metadata line gives no metadata', () => {
    expect(parseDescription('hand-written notes')).toEqual({ metadata: {} });
    expect(parseConfig({ ...config, tags: 'prod;web' }).owner).toBeUndefined();
  });
});

describe('tags', () => {
  test('run ids and placement survive the tag charset', () => {
    for (const s of ['Oslo Sentrum', 'a+b;c', 'ÆØÅ', 'rack-7_b', '']) expect(decodeTagValue(encodeTagValue(s))).toBe(s);
    expect(encodeTagValue('Oslo 1')).toMatch(/^[a-z0-9_+.-]*$/);
    const tags = buildTags('20261125t0015-2bf0', { site: 'Oslo 1', failureDomain: 'rack A' });
    expect(tags.split(';').every((t) => /^[a-z0-9_][a-z0-9_+.-]*$/.test(t))).toBe(true);
    expect(parseTags(tags)).toEqual({
      owned: true,
      runId: '20261125t0015-2bf0',
      placement: { site: 'Oslo 1', failureDomain: 'rack A' },
      other: [],
    });
  });
});

describe('tasks and versions', () => {
  test('UPID fields', () => {
    expect(parseUpid('UPID:pve1:0001A2B3:00C0FFEE:6744C5D7:qmstart:101:root@pam!vmconform:')).toEqual({
      node: 'pve1',
      pid: 0x1a2b3,
      pstart: 0xc0ffee,
      starttime: 0x6744c5d7,
      type: 'qmstart',
      id: '101',
      user: 'root@pam!vmconform',
    });
    expect(() => parseUpid('not-a-upid')).toThrow(/UPID/);
  });

  test('task status: ok, running, failed with its exit status', () => {
    const ok = tasks['status-ok']?.data as unknown as {
      upid: string;
      status: string;
      exitstatus: string;
      starttime: number;
    };
    expect(parseTaskStatus(ok.upid, ok, ok.starttime + 3)).toMatchObject({
      status: 'succeeded',
      startedAt: '2024-11-25T18:45:43.000Z',
      endedAt: '2024-11-25T18:45:46.000Z',
    });
    const running = tasks['status-running']?.data as unknown as { upid: string; status: string };
    expect(parseTaskStatus(running.upid, running).status).toBe('running');
    const failed = tasks['status-failed']?.data as unknown as { upid: string; status: string; exitstatus: string };
    expect(parseTaskStatus(failed.upid, failed)).toMatchObject({
      status: 'failed',
      error: "bridge 'vmconform-no-such-network' does not exist",
    });
  });

  test('resize returns a UPID from 8.0 on, null on 7.x', () => {
    expect(resizeReturnsUpid(parseVersion(tasks['version-8']?.data as never))).toBe(true);
    const v7 = parseVersion(tasks['version-7']?.data as never);
    expect([v7.major, v7.minor, resizeReturnsUpid(v7)]).toEqual([7, 4, false]);
    expect(() => parseVersion({ version: 'unknown' })).toThrow(/version/);
  });

  test('power states', () => {
    expect(mapPowerState('running', 'running')).toBe('running');
    expect(mapPowerState('running', 'paused')).toBe('paused');
    expect(mapPowerState('stopped')).toBe('stopped');
    expect(mapPowerState('stopped', undefined, 'clone')).toBe('transitioning');
    expect(mapPowerState('running', 'internal-error')).toBe('crashed');
  });

  test('sizes', () => {
    expect([parseSize('32M'), parseSize('1G'), parseSize('1.5G'), parseSize('4096'), parseSize('x')]).toEqual([
      32 * 2 ** 20,
      2 ** 30,
      1.5 * 2 ** 30,
      4096,
      0,
    ]);
  });
});

describe('hosts', () => {
  test('nodes with capacity and what their running VMs were given', () => {
    const hosts = hostsFromResources(resources, { site: 'oslo' });
    expect(
      hosts.map((h) => [h.id, h.name, h.capacity.cpus, h.allocated.cpus, h.allocated.memoryBytes, h.site]),
    ).toEqual([
      ['node/pve1', 'pve1', 16, 2, 335544320, 'oslo'],
      ['node/pve2', 'pve2', 8, 0, 0, 'oslo'],
    ]);
  });
});

describe('guest agent report', () => {
  test('boot history from the guest log; MACs from network-get-interfaces', () => {
    const r = agentReport(agent['file-read'].data.content, agent['network-get-interfaces'].data.result);
    expect(r.malformed).toEqual([]);
    const b = lastBoot(r);
    expect(b?.ready.bootId).toBe('5d2e9c10-77aa-4b1e-8f0e-2a9d6c4b3e88');
    // The log's newest STATE lists one NIC; the agent sees two: the agent is the authority.
    expect(lastState(r)?.nics).toEqual([
      { name: 'eth0', mac: '52:54:00:10:00:01' },
      { name: 'eth1', mac: '52:54:00:10:00:02' },
    ]);
    expect(lastState(r)?.disks.find((d) => d.serial === 'data1')?.bytes).toBe(32 * 2 ** 20);
  });

  test('without interfaces the log alone is used', () => {
    expect(
      lastState(
        agentReport('VMC READY boot_id=ab-cd kernel=k\nVMC STATE seq=1 disks= nics=eth0:52:54:00:00:00:01', undefined),
      )?.nics,
    ).toEqual([{ name: 'eth0', mac: '52:54:00:00:00:01' }]);
  });
});
