/**
 * What every platform shares: its name, what it can do (Capabilities), its versions, the handle a
 * mutating call returns, and the ownership tag that marks what the harness created.
 */
import type { GuestProbe } from './guest.js';

/** A platform's registered name (`adapters/platforms.ts` lists them; the contract does not). */
export type Platform = string;

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
