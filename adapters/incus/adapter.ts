/**
 * The Incus adapter, assembled from its concerns: core.ts holds what they share (client, name cache,
 * owned-instance lookup, volume helpers); each concern file implements one part of the contract.
 */
import { type AdapterContext, composeDriver, type Driver } from '../contract/index.js';
import { IncusBackups } from './backups.js';
import type { IncusClient } from './client.js';
import { IncusBase, type IncusConfig } from './core.js';
import { IncusCore } from './core-ops.js';
import { IncusDisks } from './disks.js';
import { IncusEvents } from './events.js';
import { IncusGuest } from './guest.js';
import { IncusHosts } from './hosts.js';
import { IncusImages } from './images.js';
import { IncusNics } from './nics.js';
import { IncusVms } from './vms.js';

export type { IncusConfig } from './core.js';

/** The driver plus its REST client, which the bench's direct baseline drives with the same requests. */
export type IncusDriver = Driver & { readonly client: IncusClient };

export function incusDriver(cfg: IncusConfig, ctx: AdapterContext): IncusDriver {
  const b = new IncusBase(cfg, ctx);
  const driver = composeDriver(b, {
    core: new IncusCore(b),
    vms: new IncusVms(b),
    disks: new IncusDisks(b),
    nics: new IncusNics(b),
    images: new IncusImages(b),
    backups: new IncusBackups(b),
    events: new IncusEvents(b),
    hosts: new IncusHosts(b),
    guest: new IncusGuest(b),
  });
  return Object.assign(driver, { client: b.client });
}
