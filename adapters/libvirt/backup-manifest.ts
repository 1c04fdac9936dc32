/**
 * The libvirt backup artefact: a directory the harness owns, holding every disk as a flattened qcow2
 * file, the domain XML as libvirt gave it, and this manifest. Nothing in it points back at the source
 * host, so any libvirt host can restore it (STO-01, MDC-04). Pure: building and validating the shape.
 */

import { PlatformError } from '../../evidence/errors.js';
import type { AttachedDisk, Backup, VmConfig, VmRef } from '../contract/index.js';

export const backupSchema = 'vmconform.libvirt-backup/v1';
export const manifestFile = 'manifest.json';

export interface BackupDisk {
  target: string;
  serial: string;
  role: AttachedDisk['role'];
  /** File name inside the backup directory. */
  file: string;
  format: 'qcow2';
  virtualBytes: number;
  /** sha256 of the file as written, checked again before a restore. */
  sha256: string;
}

export interface BackupManifest {
  schema: typeof backupSchema;
  id: string;
  runId: string;
  createdAt: string;
  source: { uri: string; hostId: string };
  vm: VmRef;
  /** The VM's configuration as read back (metadata verbatim, placement, NICs by MAC, firmware). */
  config: VmConfig;
  domainXmlFile: string;
  disks: BackupDisk[];
}

/** Backup ids are `<run id>/<name>`: the run owns it, the name says which VM and when. */
export function backupId(runId: string, vmName: string, at: Date): string {
  return `${runId}/${vmName}-${at
    .toISOString()
    .replace(/[-:.TZ]/g, '')
    .slice(0, 17)}`;
}

export function toBackup(m: BackupManifest, location: string): Backup {
  return {
    id: m.id,
    vm: m.vm,
    createdAt: m.createdAt,
    sizeBytes: m.disks.reduce((a, d) => a + d.virtualBytes, 0),
    location,
  };
}

/** Validates a manifest read from disk; a foreign or damaged file is refused with what is wrong. */
export function parseBackupManifest(text: string, where: string): BackupManifest {
  let m: Partial<BackupManifest>;
  try {
    m = JSON.parse(text) as Partial<BackupManifest>;
  } catch (e) {
    throw new PlatformError(`${where}: backup manifest is not JSON (${(e as Error).message})`, 'bad-backup', '');
  }
  const bad = (what: string) => new PlatformError(`${where}: backup manifest ${what}`, 'bad-backup', '');
  if (m.schema !== backupSchema) throw bad(`has schema ${JSON.stringify(m.schema)}, expected ${backupSchema}`);
  if (!m.id || !m.runId || !m.vm?.id || !m.vm.name || !m.config) throw bad('lacks id, runId, vm or config');
  if (!Array.isArray(m.disks) || m.disks.length === 0) throw bad('lists no disks');
  for (const d of m.disks) {
    if (!d.file || d.file.includes('/') || !/^[0-9a-f]{64}$/.test(d.sha256 ?? ''))
      throw bad(`has a disk entry without a plain file name or sha256: ${JSON.stringify(d)}`);
  }
  return m as BackupManifest;
}
