/** What a suite receives besides the driver: lab facts, lab controls and the sites of a multi-site lab. */
import type { Driver } from './driver.js';
import type { VmRef } from './vms.js';

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
