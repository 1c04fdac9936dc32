import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AuthFailed, Conflict, NotFound, PlatformError, PrereqMissing, Unsupported } from '../contract/index.js';
import {
  capacityFrom,
  diskDevice,
  type IncusInstance,
  type IncusResources,
  mapPower,
  metricValues,
  nicDevice,
  ownerOf,
  parseEvent,
  parseInstance,
  parseSize,
} from './mapping.js';
import {
  classifyIncusError,
  type IncusOperation,
  incusErrorFromResponse,
  operationError,
  operationIdOf,
  toTaskInfo,
  waitError,
} from './operations.js';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/incus/${name}`, import.meta.url), 'utf8');
const json = <T>(name: string) => JSON.parse(fixture(name)) as T;

describe('operations', () => {
  it('takes the operation UUID of an async answer as the task handle', () => {
    expect(operationIdOf(json('operation-async-stop.json'))).toBe('9c2a4896-3b5c-4250-a351-2befb7bc0af0');
    expect(operationIdOf({ type: 'sync', metadata: {} })).toBeUndefined();
  });

  it("turns /wait's HTTP-200 error envelope into the typed error its message means", () => {
    const e = waitError(json('wait-200-error.json'), 'stop instance w1');
    expect(e).toBeInstanceOf(Conflict);
    expect(e?.message).toContain('The instance is already stopped');
  });

  it('turns a Failure operation into a typed error and a failed task', () => {
    const op = json<{ metadata: IncusOperation }>('operation-failed.json').metadata;
    expect(operationError(op, 'stop')).toBeInstanceOf(Conflict);
    const info = toTaskInfo(op);
    expect(info).toMatchObject({ status: 'failed', error: 'The instance is already stopped' });
    expect(info.handle).toEqual({ kind: 'operation', id: op.id });
    expect(info.startedAt).toBe('2026-11-25T00:12:53.108304973Z');
  });

  it('reports a running operation as running, with no end time', () => {
    const op = json<{ metadata: IncusOperation }>('operation-async-stop.json').metadata;
    expect(toTaskInfo(op)).toMatchObject({ status: 'running' });
    expect(toTaskInfo(op).endedAt).toBeUndefined();
    expect(operationError({ ...op, status: 'Success', status_code: 200 }, 'x')).toBeUndefined();
  });

  it('maps an expired operation (Incus forgets finished ones after a while) to NotFound', () => {
    expect(incusErrorFromResponse(404, json('operation-expired.json'), 'GET /1.0/operations/x')).toBeInstanceOf(
      NotFound,
    );
  });

  it('says so when /wait answers without an operation', () => {
    expect(waitError({ type: 'sync', metadata: null }, 'x')).toBeInstanceOf(PlatformError);
  });
});

describe('errors', () => {
  it('maps the not-found envelope to NotFound, keeping the message', () => {
    const e = incusErrorFromResponse(404, json('error-not-found.json'), 'GET /1.0/instances/nope');
    expect(e).toBeInstanceOf(NotFound);
    expect(e.message).toContain('Instance not found');
  });

  it('tells lab prerequisites, platform limits, auth and conflicts apart', () => {
    const vm =
      'Failed creating instance record: Instance type "virtual-machine" is not supported on this server: vhost_vsock kernel module not loaded';
    expect(classifyIncusError(vm, 400, 'create')).toBeInstanceOf(PrereqMissing);
    expect(
      classifyIncusError(
        'Failed add validation for device "b1": Custom block volumes cannot be used on containers',
        400,
        'x',
      ),
    ).toBeInstanceOf(Unsupported);
    expect(classifyIncusError('not authorized', 403, 'x')).toBeInstanceOf(AuthFailed);
    expect(classifyIncusError('The instance is already running', 0, 'x')).toBeInstanceOf(Conflict);
    // incusd 6.x answers a create with a taken name from its database layer (measured in the lab).
    expect(
      classifyIncusError(
        'Failed creating instance record: Add instance info to the database: Failed to create "instances" entry: UNIQUE constraint failed: instances.project_id, instances.name',
        0,
        'create',
      ),
    ).toBeInstanceOf(Conflict);
    const other = classifyIncusError('Something odd', 500, 'x');
    expect(other).toBeInstanceOf(PlatformError);
    expect((other as PlatformError).platformCode).toBe('incus-500');
  });
});

describe('instances', () => {
  const inst = json<{ metadata: IncusInstance }>('instance-running.json').metadata;

  it('reads config, ownership, metadata and placement from user.* keys', () => {
    const p = parseInstance(inst, { 'vmconform/rec1-data1': 32 * 1024 * 1024 });
    const s = p.state;
    expect(s.power).toBe('running');
    expect(s.rawState).toBe('Running');
    expect(s.ref.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(s.config).toMatchObject({
      vcpus: 2,
      memoryMiB: 320,
      metadata: { tenant: 'acme' },
      placement: { site: 'oslo' },
    });
    expect(s.config.owner).toEqual({
      marker: 'vmconform',
      runId: '20261125t0000-abcd',
      createdAt: '2026-11-25T00:00:00.000Z',
    });
  });

  it('lists the boot disk first and data disks by device name with serial from the mount path', () => {
    const disks = parseInstance(inst, { 'vmconform/rec1-data1': 32 * 1024 * 1024 }).state.config.disks;
    expect(disks.map((d) => [d.target, d.serial, d.role])).toEqual([
      ['root', 'boot', 'boot'],
      ['vdb', 'data1', 'data'],
    ]);
    expect(disks[0]?.volumeId).toBe('vmconform/container/rec1');
    expect(disks[0]?.sizeBytes).toBe(64 * 1024 * 1024);
    expect(disks[1]).toMatchObject({ volumeId: 'vmconform/rec1-data1', sizeBytes: 32 * 1024 * 1024 });
  });

  it('lists NICs in device order with their MACs, managed network or external bridge', () => {
    const nics = parseInstance(inst).state.config.nics;
    expect(nics.map((n) => [n.index, n.mac, n.network, n.external])).toEqual([
      [0, '52:54:00:10:00:01', 'vmcincbr0', false],
      [1, '52:54:00:10:00:02', 'vmcinc-ext0', true],
    ]);
  });

  it('maps every Incus status word onto one contract state', () => {
    expect(['Running', 'Stopped', 'Frozen', 'Error', 'Starting', 'Stopping'].map(mapPower)).toEqual([
      'running',
      'stopped',
      'paused',
      'crashed',
      'transitioning',
      'transitioning',
    ]);
  });

  it('refuses ownership without the marker', () => {
    expect(ownerOf({ 'user.vmconform.run': '20261125t0000-abcd' })).toBeUndefined();
  });

  it('parses Incus sizes', () => {
    expect([parseSize('320MiB'), parseSize('1GB'), parseSize('33554432B'), parseSize('12'), parseSize('x')]).toEqual([
      320 * 1024 ** 2,
      1e9,
      33554432,
      12,
      0,
    ]);
  });
});

describe('events', () => {
  const lines = fixture('events.jsonl').trim().split('\n');

  it('turns lifecycle messages into lifecycle events of the named instance', () => {
    const evs = lines.map((l) => parseEvent(l, 1)).filter((e) => e?.kind === 'lifecycle');
    expect(evs.map((e) => e?.detail)).toEqual(
      expect.arrayContaining(['instance-created', 'instance-started', 'instance-shutdown', 'instance-deleted']),
    );
    const created = evs.find((e) => e?.detail === 'instance-created');
    expect(created?.vm).toBe('vmc-20261125t0018-d0ce-inv1');
    expect(created?.platformAt).toMatch(/^2026-11-25T/);
    expect(created?.source).toBe('push');
  });

  it('turns operation messages into task events carrying the operation id', () => {
    const op = lines.map((l) => parseEvent(l, 1)).find((e) => e?.kind === 'task');
    expect(op?.detail).toContain('0683811e-275b-4117-9739-264b670e384c');
  });

  it('ignores what is not JSON', () => {
    expect(parseEvent('not json', 1)).toBeUndefined();
  });
});

describe('device builders', () => {
  it('mounts container disks by serial and puts VM disks on virtio-blk', () => {
    expect(diskDevice('container', 'p', 'v', 'data1')).toEqual({
      type: 'disk',
      pool: 'p',
      source: 'v',
      path: '/vmc/disk/data1',
    });
    expect(diskDevice('virtual-machine', 'p', 'v', 'data1')).toMatchObject({ 'io.bus': 'virtio-blk' });
  });

  it('keeps the MAC, names container interfaces in order, and puts external bridges on bridged NICs', () => {
    expect(nicDevice('container', 1, { network: 'vmcincbr0', mac: '52:54:00:00:00:01' })).toEqual({
      type: 'nic',
      network: 'vmcincbr0',
      hwaddr: '52:54:00:00:00:01',
      name: 'eth1',
    });
    expect(
      nicDevice('virtual-machine', 0, { network: 'br-ext', external: true, mac: '52:54:00:00:00:02', vlan: 10 }),
    ).toEqual({ type: 'nic', nictype: 'bridged', parent: 'br-ext', hwaddr: '52:54:00:00:00:02', vlan: '10' });
  });
});

describe('hosts', () => {
  it('takes capacity from /1.0/resources and storage from the pool', () => {
    const r = json<{ metadata: IncusResources }>('resources.json').metadata;
    const c = capacityFrom(r, 5e9);
    expect(c.cpus).toBeGreaterThan(0);
    expect(c.memoryBytes).toBe(r.memory?.total);
    expect(c.storageBytes).toBe(5e9);
  });
});

describe('metrics', () => {
  it('picks one instance out of the Prometheus text', () => {
    const text = [
      '# TYPE incus_disk_read_bytes_total counter',
      'incus_disk_read_bytes_total{device="vda",name="a",project="p",type="container"} 4096',
      'incus_disk_read_bytes_total{device="vda",name="b",project="p",type="container"} 8',
    ].join('\n');
    expect(metricValues(text, 'incus_disk_read_bytes_total', 'a')).toEqual([
      { labels: { device: 'vda', name: 'a', project: 'p', type: 'container' }, value: 4096 },
    ]);
  });
});
