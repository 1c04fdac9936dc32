/** The VM lifecycle concern: declared specs, state read back, and the calls that change it. */
import type { AttachedDisk, DiskSpec } from './disks.js';
import type { AttachedNic, NicSpec } from './nics.js';
import type { OwnershipTag, Receipt } from './platform.js';

/** Contract power states. Every platform state must map onto exactly one of these (INS-01). */
export const powerStates = ['running', 'stopped', 'paused', 'transitioning', 'crashed'] as const;

export type PowerState = (typeof powerStates)[number];

export interface Placement {
  site?: string;
  host?: string;
  failureDomain?: string;
}

export interface VmSpec {
  name: string;
  vcpus: number;
  memoryMiB: number;
  /** Image id as returned by images()/importImage(); the boot disk is a copy-on-write child of it. */
  image: string;
  bootDiskBytes?: number;
  disks: DiskSpec[];
  nics: NicSpec[];
  /** Free-form key/value metadata (tenant, project, environment, external ids); returned verbatim. */
  metadata: Record<string, string>;
  userData?: string;
  placement?: Placement;
  /** Boot firmware; UEFI is a Talos prerequisite (IMG-04). Default: the platform's BIOS default. */
  firmware?: 'bios' | 'uefi';
}

export interface VmRef {
  /** Durable platform identity (UUID). */
  id: string;
  name: string;
}

export interface VmConfig {
  vcpus: number;
  memoryMiB: number;
  disks: AttachedDisk[];
  nics: AttachedNic[];
  metadata: Record<string, string>;
  owner?: OwnershipTag;
  placement: Placement;
  /** Boot firmware as the platform reports it (IMG-04); absent where the platform does not say. */
  firmware?: 'bios' | 'uefi';
}

export interface VmState {
  ref: VmRef;
  power: PowerState;
  /** The platform's own state word(s), kept for evidence. */
  rawState: string;
  config: VmConfig;
  /** Structured source the state came from, e.g. 'libvirt domain XML'. */
  source: string;
}

export interface StopOptions {
  force: boolean;
}

/** Day-2 change of a stopped VM (OPS-02); omitted fields stay as they are. */
export interface Resize {
  vcpus?: number;
  memoryMiB?: number;
}

/** Create, drive and read VMs (LC-*, INS-*, ID-01, OPS-02). */
export interface VmOps {
  create(spec: VmSpec): Promise<Receipt<VmRef>>;
  start(vm: VmRef): Promise<Receipt>;
  stop(vm: VmRef, opts: StopOptions): Promise<Receipt>;
  reboot(vm: VmRef): Promise<Receipt>;
  delete(vm: VmRef): Promise<Receipt>;
  rename(vm: VmRef, newName: string): Promise<Receipt<VmRef>>;
  inspect(vm: VmRef): Promise<VmState>;
  /** VMs, optionally only one run's, or only those whose metadata has all the given key/values. */
  list(filter: { owner?: string; metadata?: Record<string, string> }): Promise<VmRef[]>;
  /** Day-2 change of a stopped VM (OPS-02). */
  reconfigure(vm: VmRef, change: Resize): Promise<Receipt>;
}
