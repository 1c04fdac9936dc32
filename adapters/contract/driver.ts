/**
 * The driver contract: what every platform adapter implements and every suite is written against,
 * one interface per concern. Nothing platform-specific belongs here; differences between platforms
 * are expressed as Capabilities.
 */
import type { BackupOps } from './backups.js';
import type { DiskOps } from './disks.js';
import type { EventOps } from './events.js';
import type { GuestOps } from './guest.js';
import type { HostOps } from './hosts.js';
import type { ImageOps } from './images.js';
import type { NicOps } from './nics.js';
import type { Capabilities, OwnedObject, Platform, PlatformInfo } from './platform.js';
import type { VmOps } from './vms.js';

/** What every adapter has whatever it supports: capabilities, versions, ownership listing, shutdown. */
export interface CoreOps {
  capabilities(): Promise<Capabilities>;
  platformInfo(): Promise<PlatformInfo>;
  /** Every object carrying the ownership tag (any run), for leak checks and the sweeper. */
  owned(): Promise<OwnedObject[]>;
  close(): Promise<void>;
}

export interface Driver extends CoreOps, VmOps, DiskOps, NicOps, ImageOps, BackupOps, EventOps, HostOps, GuestOps {
  readonly platform: Platform;
}

/** The concerns an adapter is assembled from (`composeDriver`); a method no part has answers Unsupported. */
export interface DriverParts {
  core?: Partial<CoreOps>;
  vms?: Partial<VmOps>;
  disks?: Partial<DiskOps>;
  nics?: Partial<NicOps>;
  images?: Partial<ImageOps>;
  backups?: Partial<BackupOps>;
  events?: Partial<EventOps>;
  hosts?: Partial<HostOps>;
  guest?: Partial<GuestOps>;
}

/** Every method of the contract, per concern: the one list `composeDriver` and its tests go by. */
export const driverMethods = {
  core: ['capabilities', 'platformInfo', 'owned', 'close'],
  vms: ['create', 'start', 'stop', 'reboot', 'delete', 'rename', 'inspect', 'list', 'reconfigure'],
  disks: [
    'attachDisk',
    'detachDisk',
    'resizeDisk',
    'volumes',
    'deleteVolume',
    'storagePools',
    'exportVolume',
    'importVolume',
  ],
  nics: ['attachNic', 'detachNic', 'networks'],
  images: ['images', 'importImage', 'deleteImage'],
  backups: ['backup', 'restore', 'deleteBackup', 'backups'],
  events: ['events', 'task', 'consoleLog'],
  hosts: ['hosts', 'metrics', 'hostMetrics'],
  guest: ['guest'],
} as const satisfies { [K in keyof DriverParts]-?: readonly (keyof NonNullable<DriverParts[K]>)[] };
