/**
 * The driver contract: what every platform adapter implements and every suite is written against.
 * Nothing platform-specific belongs here; differences between platforms are expressed as Capabilities.
 */
import type { GuestReport } from '../../host/guest/report.js';

export * from '../../evidence/errors.js';
export type { WaitOperation, WaitPolicy } from '../../host/wait.js';

export const platforms = ['libvirt', 'incus', 'proxmox', 'openstack'] as const;
export type Platform = (typeof platforms)[number];

/** Contract power states. Every platform state must map onto exactly one of these (INS-01). */
export const powerStates = ['running', 'stopped', 'paused', 'transitioning', 'crashed'] as const;
export type PowerState = (typeof powerStates)[number];

/** Marker stored in every object the harness creates; delete and sweep refuse objects without it. */
export const ownershipMarker = 'vmconform';
export interface OwnershipTag {
  marker: typeof ownershipMarker;
  runId: string;
  createdAt: string;
}

/** Run ids look like 20261124t1847-26e8: sortable by start time, unique per run, safe in every platform's names. */
export const runIdPattern = /^\d{8}t\d{4}-[0-9a-f]{4}$/;

export function newRunId(now = new Date(), rand = Math.floor(Math.random() * 0x10000)): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').slice(0, 13).toLowerCase();
  return `${stamp}-${rand.toString(16).padStart(4, '0')}`;
}

/** What the harness creates; the sweeper removes them in this order (dependents first). */
export const ownedKinds = ['vm', 'backup', 'volume', 'image'] as const;
export type OwnedKind = (typeof ownedKinds)[number];

/** Anything on the platform that carries the ownership tag, as the leak check and the sweeper see it. */
export interface OwnedObject {
  kind: OwnedKind;
  id: string;
  name: string;
  runId: string;
}

export interface DiskSpec {
  /** Caller's logical name; also the serial unless `serial` is given. */
  name: string;
  sizeBytes: number;
  serial?: string;
  /** Attach an existing volume instead of creating one. */
  volumeId?: string;
}

export interface NicSpec {
  /** A platform network name, or an externally managed bridge when `external` is true. */
  network: string;
  external?: boolean;
  /** Caller-chosen MAC (lowercase, colon-separated); the platform must keep it. */
  mac?: string;
  vlan?: number;
}

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

export interface AttachedNic {
  index: number;
  mac: string;
  network: string;
  external: boolean;
  model: string;
  vlan?: number;
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

export interface HostCapacity {
  cpus: number;
  memoryBytes: number;
  storageBytes?: number;
}

export interface Host {
  id: string;
  name: string;
  site?: string;
  failureDomain?: string;
  capacity: HostCapacity;
  allocated: { cpus: number; memoryBytes: number; storageBytes?: number };
}

export interface PlatformInfo {
  platform: Platform;
  product: string;
  version: string;
  apiVersion?: string;
  hypervisor?: string;
  /** How guests execute: real KVM, QEMU TCG emulation, containers, or a simulator. */
  accel: 'kvm' | 'tcg' | 'container' | 'simulated';
  endpoint: string;
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

/** Counters read through the platform API (OPS-05); absent where the platform does not expose one. */
export interface VmMetrics {
  cpuTimeNs?: number;
  memoryBytes?: number;
  disks: { target: string; readBytes: number; writeBytes: number }[];
  nics: { name: string; rxBytes: number; txBytes: number }[];
}

export interface HostMetrics {
  cpuTimeNs: { user: number; system: number; idle: number };
  memoryTotalBytes: number;
  memoryFreeBytes: number;
}

export interface Network {
  name: string;
  kind: 'platform' | 'external-bridge';
  bridge?: string;
  active: boolean;
}

export interface Image {
  id: string;
  name: string;
  /** The version label the operator published it under (IMG-02), when the platform keeps one. */
  version?: string;
  format: string;
  sizeBytes: number;
  checksum?: { algorithm: string; value: string };
  owner?: OwnershipTag;
}

/** A base image file to publish through the platform API (IMG-01, IMG-02). */
export interface ImageSource {
  name: string;
  version: string;
  /** Local file the harness uploads. */
  path: string;
  format: 'raw' | 'qcow2';
  /** Expected sha256 (hex); the platform's own checksum must agree. */
  sha256: string;
}

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

/** A disk in a standard format on the harness side (STO-02). */
export interface VolumeFile {
  path: string;
  format: 'raw' | 'qcow2';
  sizeBytes: number;
}

/** Day-2 change of a stopped VM (OPS-02); omitted fields stay as they are. */
export interface Resize {
  vcpus?: number;
  memoryMiB?: number;
}

export interface TaskHandle {
  /** 'none' means the platform gives no handle: evidence says so instead of inventing one. */
  kind: 'task' | 'operation' | 'request' | 'none';
  id: string | null;
  note?: string;
}

/** What a mutating call returns: the platform's own handle plus when it was accepted and done. */
export interface Receipt<T = void> {
  result: T;
  handle: TaskHandle;
  acceptedMs: number;
  doneMs: number;
}

export interface TaskInfo {
  handle: TaskHandle;
  status: 'running' | 'succeeded' | 'failed';
  startedAt?: string;
  endedAt?: string;
  error?: string;
}

export interface PlatformEvent {
  /** Wall-clock ms when the harness received it. */
  receivedAt: number;
  /** The platform's own timestamp, when it has one. */
  platformAt?: string;
  vm?: string;
  kind: 'lifecycle' | 'device' | 'config' | 'task' | 'other';
  /** The platform's task/operation id this event belongs to, when the platform says (INT-03). */
  taskId?: string;
  detail: string;
  source: 'push' | 'poll';
  raw: string;
}

/** The guest-side view: what the guest itself says about its boot, disks and NICs. */
export interface GuestProbe {
  readonly kind: 'serial-console' | 'agent' | 'exec';
  read(): Promise<GuestReport>;
}

/** 'disk-size': the lab's storage cannot enforce a volume's size (the guest sees the backing filesystem). */
export type PrereqKey = 'vlan' | 'kvm' | 'second-site' | 'vm-instances' | 'talos-image' | 'nats' | 'disk-size';

export interface Capabilities {
  instanceType: 'vm' | 'container';
  /** Evidence from containers or simulators proves the adapter and API path, not VM support. */
  evidence: 'real' | 'container-only' | 'simulated';
  hotplugDisk: boolean;
  hotplugNic: boolean;
  resizeDisk: 'online' | 'offline' | 'none';
  rename: 'any-state' | 'stopped-only' | 'none';
  taskHandles: boolean;
  events: 'push' | 'poll' | 'none';
  guestView: GuestProbe['kind'] | 'none';
  /** Whether list() filters by metadata on the platform or the adapter filters what it read. */
  metadataFilter: 'platform' | 'adapter';
  externalBridge: boolean;
  /**
   * Who keeps image versions immutable (IMG-02): the platform itself, or only the adapter's naming
   * convention on a platform that has no versions. Absent: not declared (treated as the adapter's).
   */
  imageVersions?: 'platform' | 'adapter-convention';
  /** How a host is emptied for maintenance (OPS-02): live migration, cold migration, or only stopping its VMs. */
  hostMaintenance: 'evacuate-live' | 'evacuate-cold' | 'stop-only' | 'none';
  /** Why a prerequisite is missing on this lab, per feature; absent means available. */
  prereqMissing: Partial<Record<PrereqKey, string>>;
}

export interface StopOptions {
  force: boolean;
}

export interface Driver {
  readonly platform: Platform;
  capabilities(): Promise<Capabilities>;
  platformInfo(): Promise<PlatformInfo>;
  hosts(): Promise<Host[]>;

  create(spec: VmSpec): Promise<Receipt<VmRef>>;
  start(vm: VmRef): Promise<Receipt>;
  stop(vm: VmRef, opts: StopOptions): Promise<Receipt>;
  reboot(vm: VmRef): Promise<Receipt>;
  delete(vm: VmRef): Promise<Receipt>;
  rename(vm: VmRef, newName: string): Promise<Receipt<VmRef>>;

  inspect(vm: VmRef): Promise<VmState>;
  /** VMs, optionally only one run's, or only those whose metadata has all the given key/values. */
  list(filter: { owner?: string; metadata?: Record<string, string> }): Promise<VmRef[]>;
  /** Every object carrying the ownership tag (any run), for leak checks and the sweeper. */
  owned(): Promise<OwnedObject[]>;

  attachDisk(vm: VmRef, disk: DiskSpec): Promise<Receipt<AttachedDisk>>;
  detachDisk(vm: VmRef, diskId: string): Promise<Receipt>;
  resizeDisk(vm: VmRef, diskId: string, sizeBytes: number): Promise<Receipt>;
  volumes(): Promise<Volume[]>;
  deleteVolume(volumeId: string): Promise<Receipt>;
  storagePools(): Promise<StoragePool[]>;
  metrics(vm: VmRef): Promise<VmMetrics>;
  hostMetrics(): Promise<HostMetrics>;

  attachNic(vm: VmRef, nic: NicSpec): Promise<Receipt<AttachedNic>>;
  detachNic(vm: VmRef, mac: string): Promise<Receipt>;
  networks(): Promise<Network[]>;

  images(): Promise<Image[]>;
  importImage(src: ImageSource): Promise<Receipt<Image>>;
  deleteImage(id: string): Promise<Receipt>;

  backup(vm: VmRef): Promise<Receipt<Backup>>;
  restore(backup: Backup, opts: RestoreOptions): Promise<Receipt<VmRef>>;
  deleteBackup(id: string): Promise<Receipt>;
  backups(): Promise<Backup[]>;
  exportVolume(volumeId: string, dest: { path: string; format: VolumeFile['format'] }): Promise<Receipt<VolumeFile>>;
  importVolume(name: string, src: VolumeFile): Promise<Receipt<Volume>>;
  reconfigure(vm: VmRef, change: Resize): Promise<Receipt>;
  /** The VM's console or task log as the platform API serves it (OBS-04). */
  consoleLog(vm: VmRef): Promise<string>;

  events(signal: AbortSignal): AsyncIterable<PlatformEvent>;
  task(handle: TaskHandle): Promise<TaskInfo>;
  guest(vm: VmRef): GuestProbe;

  close(): Promise<void>;
}

/** Lab-side controls the suites need that are not platform API calls (daemon restarts, lab facts). */
export interface LabControl {
  /** Restart the platform's control daemon(s); VMs must survive (ID-01, ID-02, OPS-04). */
  restartDaemon?(): Promise<void>;
  /** The external bridge's own configuration, for NIC-05. */
  hostNetworkState?(): Promise<string>;
  /** Every host link, address and route except the platform's declared objects (its bridges and VM taps), for NIC-06. */
  hostNetworkSnapshot?(): Promise<string>;
  /** Stops a VM with the platform's own CLI, behind the harness's back (INT-02 drift detection). */
  outOfBandStop?(vm: VmRef): Promise<void>;
  /** The same platform reached with wrong credentials, for AUT-01's typed auth error. */
  badCredentials?(): Driver;
  /** Stops the platform's control daemon(s), leaving VMs running: the platform is down (OPS-01). */
  stopDaemon?(): Promise<void>;
  /** Starts the control daemon(s) again and returns once the platform answers. */
  startDaemon?(): Promise<void>;
  /** The same platform placing new volumes in the lab's small pool (LabFacts.smallPool), fully allocated (OPS-01). */
  smallPoolDriver?(): Driver;
  /** What the lab's own scripted bring-up recorded (OPS-03); undefined when it never ran. */
  labRecord?(): Promise<LabRecord | undefined>;
}

/** A lab's record of its own bring-up, as its scripts wrote it (OPS-03). */
export interface LabRecord {
  /** The command that builds the lab unattended. */
  command: string;
  /** Steps the scripts could not do and a person must (none for a fully scripted lab). */
  manualSteps: string[];
  lastBringUp: { ms: number; at: string; cold: boolean };
  /** The last bring-up from nothing, when the record still has it. */
  coldBringUp?: { ms: number; at: string };
}

export interface LabFacts {
  /** A platform-managed network the suites attach NICs to. */
  network: string;
  /** A second platform network for multi-NIC order checks (may equal `network`). */
  network2: string;
  /** A bridge the platform did not create (Nett-managed stand-in), for NIC-05. */
  externalBridge?: string;
  /** The base image id the suites boot. */
  image: string;
  /** A deliberately tiny storage pool the lab made, for storage-full faults (OPS-01). */
  smallPool?: { name: string; capacityBytes: number };
  /** A Talos disk image (local file) the lab config names for IMG-04; absent means prereq-missing. */
  talosImage?: string;
}

/** Lab-side controls of one site (MDC-03): losing it as a site loss would, and getting it back. */
export interface SiteControl {
  /** Makes the site unreachable from the harness (its link cut); its VMs keep running where they are. */
  lose?(): Promise<void>;
  /** Undoes lose() and returns once the site's API answers again. */
  restore?(): Promise<void>;
}

/**
 * One site (failure domain) of a multi-site lab, for MDC-01..04. Two platform shapes, one contract:
 * where one API spans the sites (OpenStack availability zones, Incus or Proxmox clusters) every entry
 * carries the same driver and the platform places by VmSpec.placement; where each host has its own
 * daemon (libvirt) each entry carries that host's driver, which refuses a placement it cannot honour.
 * Suites always do both (use the site's driver and ask for its site in placement), so neither needs
 * an `if` in a suite. The first entry is the target's own driver.
 */
export interface Site {
  name: string;
  failureDomain?: string;
  driver: Driver;
  lab: LabFacts;
  control: SiteControl;
}

/** Everything a suite receives: the driver, lab facts, lab controls. */
export interface Target {
  driver: Driver;
  lab: LabFacts;
  control: LabControl;
  runId: string;
  /** The sites the lab config declares; absent or one entry means a single-site lab. */
  sites?: Site[];
}
