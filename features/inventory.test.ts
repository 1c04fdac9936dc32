import { describe, expect, it } from 'vitest';
import { ConfigInvalid } from '../evidence/errors.js';
import { describeReport, type Inventory, inventorySchema, parseInventory, reconcile } from './inventory.js';

const snapshot = (): Inventory => ({
  schema: inventorySchema,
  platform: 'libvirt',
  endpoint: 'qemu:///system',
  exportedAt: '2026-11-25T00:00:00.000Z',
  scope: { owner: '20261125t0000-abcd' },
  hosts: [{ id: 'h-1', name: 'qemu:///system', capacity: { cpus: 2, memoryBytes: 8 << 30 } }],
  vms: [
    {
      id: 'vm-a',
      name: 'a',
      host: 'h-1',
      power: 'running',
      vcpus: 1,
      memoryMiB: 256,
      metadata: { tenant: 'acme', project: 'web', 'sentral-id': 'x-1' },
      placement: { site: 'oslo' },
      disks: [{ target: 'vda', serial: 'boot', volumeId: 'p/a-boot' }],
    },
    {
      id: 'vm-b',
      name: 'b',
      host: 'h-1',
      power: 'stopped',
      vcpus: 2,
      memoryMiB: 512,
      metadata: {},
      placement: {},
      disks: [],
    },
  ],
  volumes: [{ id: 'p/a-boot', name: 'a-boot', sizeBytes: 64, format: 'qcow2', attachedTo: ['vm-a'] }],
  nics: [
    { id: 'vm-a/52:54:00:00:00:01', vm: 'vm-a', mac: '52:54:00:00:00:01', network: 'n1', external: false, index: 0 },
  ],
});

describe('reconcile', () => {
  it('finds nothing when the platform matches the record, whatever the key order or export time', () => {
    const now = snapshot();
    now.exportedAt = '2026-11-25T01:00:00.000Z';
    const a = now.vms[0];
    if (a) a.metadata = { 'sentral-id': 'x-1', project: 'web', tenant: 'acme' };
    expect(reconcile(snapshot(), now)).toEqual({ missing: [], unexpected: [], drifted: [], clean: true });
  });

  it('reports missing, unexpected and drifted objects by kind and field', () => {
    const now = snapshot();
    now.vms = now.vms.filter((v) => v.id !== 'vm-b');
    now.vms.push({ ...structuredClone(snapshot().vms[1]), id: 'vm-c', name: 'c' } as Inventory['vms'][number]);
    const a = now.vms[0];
    if (a) {
      a.power = 'stopped';
      a.metadata = { ...a.metadata, project: 'billing' };
    }
    const vol = now.volumes[0];
    if (vol) vol.sizeBytes = 128;
    const r = reconcile(snapshot(), now);
    expect(r.clean).toBe(false);
    expect(r.missing).toEqual([{ kind: 'vm', id: 'vm-b', name: 'b' }]);
    expect(r.unexpected).toEqual([{ kind: 'vm', id: 'vm-c', name: 'c' }]);
    expect(r.drifted.map((d) => `${d.kind}:${d.id}:${d.field}`)).toEqual([
      'vm:vm-a:power',
      'vm:vm-a:metadata',
      'volume:p/a-boot:sizeBytes',
    ]);
    expect(r.drifted[0]).toMatchObject({ expected: 'running', actual: 'stopped' });
    expect(describeReport(r)).toContain('drifted     vm a (vm-a) power: "running" -> "stopped"');
    expect(describeReport(r).at(-1)).toBe('1 missing, 1 unexpected, 3 drifted');
  });

  it('treats a NIC that changed network as drift and a removed NIC as missing', () => {
    const now = snapshot();
    const nic = now.nics[0];
    if (nic) nic.network = 'n2';
    expect(reconcile(snapshot(), now).drifted).toMatchObject([{ kind: 'nic', field: 'network', actual: 'n2' }]);
    now.nics = [];
    expect(reconcile(snapshot(), now).missing).toEqual([
      { kind: 'nic', id: 'vm-a/52:54:00:00:00:01', name: '52:54:00:00:00:01' },
    ]);
  });
});

describe('parseInventory', () => {
  it('round-trips an export', () => {
    expect(parseInventory(JSON.stringify(snapshot()), 'sor.json')).toEqual(snapshot());
  });

  it('names the file and field of a bad record', () => {
    expect(() => parseInventory('{', 'sor.json')).toThrow(ConfigInvalid);
    expect(() => parseInventory(JSON.stringify({ ...snapshot(), schema: 'x/v0' }), 'sor.json')).toThrow(
      /sor.json: schema: expected 'vmconform.inventory\/v1'/,
    );
    expect(() => parseInventory(JSON.stringify({ ...snapshot(), vms: [{ name: 'a' }] }), 'sor.json')).toThrow(
      'sor.json: vms[0].id: expected a non-empty string',
    );
    expect(() => parseInventory(JSON.stringify({ ...snapshot(), nics: undefined }), 'sor.json')).toThrow(
      'sor.json: nics: expected an array',
    );
  });
});
