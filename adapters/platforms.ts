/**
 * Builds a Target (driver + lab facts + lab controls) for a platform from validated lab config. Each
 * platform's adapter folder has a target.ts; adapters load lazily so one platform's deps never slow another.
 */

import { ConfigInvalid } from '../evidence/errors.js';
import type { Transcript } from '../evidence/transcript.js';
import type { Platform, Target } from './contract/driver.js';
import type { LabConfig } from './lab-config.js';

export interface TargetOptions {
  runId: string;
  transcript: Transcript;
  log?: (msg: string) => void;
}

type Connector = (config: LabConfig, opts: TargetOptions) => Promise<Target>;

const connectors: Partial<Record<Platform, () => Promise<Connector>>> = {
  libvirt: async () => (await import('./libvirt/target.js')).connectLibvirt,
  incus: async () => (await import('./incus/target.js')).connectIncus,
  proxmox: async () => (await import('./proxmox/target.js')).connectProxmox,
  openstack: async () => (await import('./openstack/target.js')).connectOpenStack,
};

export const availablePlatforms = Object.keys(connectors) as Platform[];

export async function connectTarget(platform: Platform, config: LabConfig, opts: TargetOptions): Promise<Target> {
  const load = connectors[platform];
  if (!load)
    throw new ConfigInvalid(
      `platform '${platform}': no adapter in this build (available: ${availablePlatforms.join(', ')})`,
    );
  if (!config.platforms[platform as keyof LabConfig['platforms']])
    throw new ConfigInvalid(`platforms.${platform}: missing from the lab config (expected a ${platform} section)`);
  return (await load())(config, opts);
}
