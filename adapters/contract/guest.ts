/** The guest concern: what the guest itself says, read through whatever channel the platform has. */
import type { GuestReport } from '../../host/guest/report.js';
import type { VmRef } from './vms.js';

export type { GuestReport } from '../../host/guest/report.js';

/** The guest-side view: what the guest itself says about its boot, disks and NICs. */
export interface GuestProbe {
  readonly kind: 'serial-console' | 'agent' | 'exec';
  /** What the guest says that this channel cannot show, and why (a check on it is unobservable, not failed). */
  readonly unseen?: Partial<Record<'shutdown', string>>;
  read(): Promise<GuestReport>;
}

export interface GuestOps {
  guest(vm: VmRef): GuestProbe;
}
