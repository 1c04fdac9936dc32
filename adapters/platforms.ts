/**
 * The one registration list: a platform is its folder plus one line here. The platform names, the lab
 * config's `platforms:` schema, the lab list and the bench all come from these descriptors.
 */
import { incus } from './incus/index.js';
import { libvirt } from './libvirt/index.js';
import { openstack } from './openstack/index.js';
import { proxmox } from './proxmox/index.js';
import { createRegistry } from './registry.js';

export const registry = createRegistry([libvirt, incus, proxmox, openstack] as const);

export const platforms = registry.names;
export type Platform = (typeof platforms)[number];
export const connectTarget = registry.connect;
