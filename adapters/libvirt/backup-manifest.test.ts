import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PlatformError } from '../../evidence/errors.js';
import { type BackupManifest, backupId, backupSchema, parseBackupManifest, toBackup } from './backup-manifest.js';
import { parseQemuImgInfo } from './disk-files.js';

const manifest = (): BackupManifest => ({
  schema: backupSchema,
  id: '20261125t0000-abcd/vmc-20261125t0000-abcd-sto1-20261125001500123',
  runId: '20261125t0000-abcd',
  createdAt: '2026-11-25T00:15:00.123Z',
  source: { uri: 'qemu:///system', hostId: 'h-1' },
  vm: { id: 'u-1', name: 'vmc-20261125t0000-abcd-sto1' },
  config: {
    vcpus: 1,
    memoryMiB: 256,
    disks: [],
    nics: [],
    metadata: { 'sentral-id': 'x' },
    placement: { site: 'a' },
    firmware: 'bios',
  },
  domainXmlFile: 'domain.xml',
  disks: [
    {
      target: 'vda',
      serial: 'boot',
      role: 'boot',
      file: 'vda.qcow2',
      format: 'qcow2',
      virtualBytes: 64,
      sha256: 'a'.repeat(64),
    },
    {
      target: 'vdb',
      serial: 'data1',
      role: 'data',
      file: 'vdb.qcow2',
      format: 'qcow2',
      virtualBytes: 16,
      sha256: 'b'.repeat(64),
    },
  ],
});

describe('libvirt backup manifest', () => {
  it('names a backup by run and VM and time, so the run owns it', () => {
    expect(backupId('20261125t0000-abcd', 'vmc-x', new Date('2026-11-25T00:15:00.123Z'))).toBe(
      '20261125t0000-abcd/vmc-x-20261125001500123',
    );
  });

  it('round-trips and describes the backup', () => {
    const m = parseBackupManifest(JSON.stringify(manifest()), '/b');
    expect(m).toEqual(manifest());
    expect(toBackup(m, '/b')).toEqual({
      id: manifest().id,
      vm: manifest().vm,
      createdAt: manifest().createdAt,
      sizeBytes: 80,
      location: '/b',
    });
  });

  it('refuses foreign or damaged manifests with what is wrong', () => {
    expect(() => parseBackupManifest('nope', '/b')).toThrow(PlatformError);
    expect(() => parseBackupManifest(JSON.stringify({ ...manifest(), schema: 'x' }), '/b')).toThrow(
      /schema "x", expected vmconform.libvirt-backup\/v1/,
    );
    expect(() => parseBackupManifest(JSON.stringify({ ...manifest(), disks: [] }), '/b')).toThrow(/lists no disks/);
    const outside = manifest();
    (outside.disks[0] as { file: string }).file = '../../etc/passwd';
    expect(() => parseBackupManifest(JSON.stringify(outside), '/b')).toThrow(/plain file name/);
  });
});

describe('qemu-img info', () => {
  it('reads format, virtual size and backing of an overlay', () => {
    const json = readFileSync(new URL('../../fixtures/libvirt/qemu-img-info-overlay.json', import.meta.url), 'utf8');
    expect(parseQemuImgInfo(json)).toEqual({
      format: 'qcow2',
      virtualBytes: 8 * 1024 * 1024,
      backing: '/var/lib/vmconform/guest/base.img',
    });
    expect(() => parseQemuImgInfo('{}')).toThrow(/no format or virtual size/);
  });
});
