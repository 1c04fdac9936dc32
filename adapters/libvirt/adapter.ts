/**
 * The libvirt driver, assembled by concern (vms, disks, nics, images, backups, events, hosts, guest)
 * around one shared base: the virsh connection, config and helpers every part uses.
 */
import { type AdapterContext, composeDriver, type Driver } from '../contract/index.js';
import { LibvirtBackups } from './backups.js';
import { LibvirtBase, type LibvirtConfig } from './core.js';
import { LibvirtDisks } from './disks.js';
import { LibvirtEvents } from './events.js';
import { LibvirtGuest } from './guest.js';
import { LibvirtHosts } from './hosts.js';
import { LibvirtImages } from './images.js';
import { LibvirtInventory } from './inventory.js';
import { LibvirtNics } from './nics.js';
import { LibvirtVms } from './vms.js';

export { defaultBackupDir, type LibvirtConfig } from './core.js';

/** One libvirt daemon (one host) as a Driver; parts that need another's calls get that part. */
export function libvirtDriver(cfg: LibvirtConfig, ctx: AdapterContext): Driver {
  const base = new LibvirtBase(cfg, ctx);
  const vms = new LibvirtVms(base);
  const disks = new LibvirtDisks(base, vms);
  const backups = new LibvirtBackups(base, vms);
  return composeDriver(base, {
    core: new LibvirtInventory(base, backups),
    vms,
    disks,
    nics: new LibvirtNics(base, vms),
    images: new LibvirtImages(base, disks),
    backups,
    events: new LibvirtEvents(base),
    hosts: new LibvirtHosts(base),
    guest: new LibvirtGuest(base),
  });
}
