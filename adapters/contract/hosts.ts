/** The host and inventory concern: hosts, capacity, metrics (INV-*, ID-02, OPS-05). */
import type { VmRef } from './vms.js';

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

export interface HostOps {
  hosts(): Promise<Host[]>;
  metrics(vm: VmRef): Promise<VmMetrics>;
  hostMetrics(): Promise<HostMetrics>;
}
