/** The backup concern: point-in-time copies and restores (STO-01, MDC-04). */
import type { Receipt } from './platform.js';
import type { Placement, VmRef } from './vms.js';

/** A point-in-time copy of a VM's disks and identity metadata that can be restored (STO-01, MDC-04). */
export interface Backup {
  id: string;
  vm: VmRef;
  createdAt: string;
  sizeBytes: number;
  /** Where the platform keeps it (pool, storage, path), for evidence. */
  location: string;
}

export interface RestoreOptions {
  name: string;
  placement?: Placement;
}

export interface BackupOps {
  backup(vm: VmRef): Promise<Receipt<Backup>>;
  restore(backup: Backup, opts: RestoreOptions): Promise<Receipt<VmRef>>;
  deleteBackup(id: string): Promise<Receipt>;
  backups(): Promise<Backup[]>;
}
