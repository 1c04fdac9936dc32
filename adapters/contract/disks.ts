/** The disk and volume concern: data disks on VMs, volumes and pools, and disks as files. */
import { PlatformError } from '../../evidence/errors.js';
import type { OwnershipTag, Receipt } from './platform.js';
import type { VmRef } from './vms.js';

export interface DiskSpec {
  /** Caller's logical name; also the serial unless `serial` is given. */
  name: string;
  sizeBytes: number;
  serial?: string;
  /** Attach an existing volume instead of creating one. */
  volumeId?: string;
}

export interface AttachedDisk {
  /** Stable id for detach/resize within this VM (the device target). */
  id: string;
  target: string;
  serial: string;
  sizeBytes: number;
  volumeId: string;
  format: string;
  role: 'boot' | 'data' | 'seed';
}

export interface Volume {
  id: string;
  name: string;
  sizeBytes: number;
  allocatedBytes?: number;
  format: string;
  backing?: string;
  attachedTo: string[];
  owner?: OwnershipTag;
}

export interface StoragePool {
  name: string;
  type: string;
  active: boolean;
  capacityBytes: number;
  allocationBytes: number;
  availableBytes: number;
}

/** A disk in a standard format on the harness side (STO-02). */
export interface VolumeFile {
  path: string;
  format: 'raw' | 'qcow2';
  sizeBytes: number;
}

/** Attach, detach, grow, list and move disks (DSK-*, STO-02, STO-03). */
export interface DiskOps {
  attachDisk(vm: VmRef, disk: DiskSpec): Promise<Receipt<AttachedDisk>>;
  detachDisk(vm: VmRef, diskId: string): Promise<Receipt>;
  resizeDisk(vm: VmRef, diskId: string, sizeBytes: number): Promise<Receipt>;
  volumes(): Promise<Volume[]>;
  deleteVolume(volumeId: string): Promise<Receipt>;
  storagePools(): Promise<StoragePool[]>;
  exportVolume(volumeId: string, dest: { path: string; format: VolumeFile['format'] }): Promise<Receipt<VolumeFile>>;
  importVolume(name: string, src: VolumeFile): Promise<Receipt<Volume>>;
}

/** The virtio target for a disk index: 0 is vda (the boot disk), 1 vdb, ... up to vdy. */
export function targetFor(index: number): string {
  if (index < 0 || index > 24)
    throw new PlatformError(`no virtio target for disk index ${index}`, 'too-many-disks', '');
  return `vd${String.fromCharCode(97 + index)}`;
}

/** The first free data-disk target (vdb onwards) on a platform that names disks the virtio way. */
export function nextFreeTarget(used: string[]): string {
  for (let i = 1; i < 25; i++) {
    const t = targetFor(i);
    if (!used.includes(t)) return t;
  }
  throw new PlatformError('no free virtio target', 'too-many-disks', used.join(','));
}
