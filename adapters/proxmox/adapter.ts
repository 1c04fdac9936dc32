/**
 * The Proxmox VE driver: QEMU VMs on one node through the REST API (api2/json). VMs are linked
 * clones of a template (the image); identity is the SMBIOS type 1 UUID the adapter writes; ownership
 * and placement are tags, free-form metadata a JSON line in the description; the guest-side view
 * comes from the QEMU guest agent; events come from polling /cluster/tasks (PVE has no push events).
 * Each concern is its own module over the shared ProxmoxBase; this file assembles them.
 */
import { type AdapterContext, composeDriver, type Driver, type VmRef } from '../contract/index.js';
import { ProxmoxBackups } from './backups.js';
import { ProxmoxBase, type ProxmoxConfig, ProxmoxCore } from './core.js';
import { ProxmoxDisks } from './disks.js';
import { ProxmoxEvents } from './events.js';
import { ProxmoxGuest } from './guest.js';
import { ProxmoxHosts } from './hosts.js';
import { ProxmoxImages } from './images.js';
import { ProxmoxNics } from './nics.js';
import { ProxmoxVms } from './vms.js';

export type { ProxmoxConfig } from './core.js';

/** The Driver, plus the VMID behind a VmRef for lab controls that act beside the driver (INT-02). */
export type ProxmoxDriver = Driver & { vmidOf(vm: VmRef): Promise<number> };

export function proxmoxDriver(c: ProxmoxConfig, ctx: AdapterContext): ProxmoxDriver {
  const base = new ProxmoxBase(c, ctx);
  const guest = new ProxmoxGuest(base);
  const driver = composeDriver(base, {
    core: new ProxmoxCore(base),
    vms: new ProxmoxVms(base, guest),
    disks: new ProxmoxDisks(base),
    nics: new ProxmoxNics(base),
    images: new ProxmoxImages(base),
    backups: new ProxmoxBackups(base),
    events: new ProxmoxEvents(base),
    hosts: new ProxmoxHosts(base),
    guest,
  });
  return Object.assign(driver, { vmidOf: (vm: VmRef) => base.vmidOf(vm) });
}
