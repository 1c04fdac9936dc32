/** The network concern: NICs on VMs and the networks they join. */
import type { Receipt } from './platform.js';
import type { VmRef } from './vms.js';

export interface NicSpec {
  /** A platform network name, or an externally managed bridge when `external` is true. */
  network: string;
  external?: boolean;
  /** Caller-chosen MAC (lowercase, colon-separated); the platform must keep it. */
  mac?: string;
  vlan?: number;
}

export interface AttachedNic {
  index: number;
  mac: string;
  network: string;
  external: boolean;
  model: string;
  vlan?: number;
}

export interface Network {
  name: string;
  kind: 'platform' | 'external-bridge';
  bridge?: string;
  active: boolean;
}

/** Attach and detach NICs, list networks (NIC-*). */
export interface NicOps {
  attachNic(vm: VmRef, nic: NicSpec): Promise<Receipt<AttachedNic>>;
  detachNic(vm: VmRef, mac: string): Promise<Receipt>;
  networks(): Promise<Network[]>;
}
