/**
 * The embedded local labs `vmconform lab up|down|status NAME` manages: one entry per platform lab and
 * per shared lab service (a second site, a NATS server). Each loads lazily.
 */
import type { Platform } from '../adapters/contract/driver.js';
import type { LabConfig } from '../adapters/lab-config.js';
import type { Say } from '../host/host.js';

export interface Lab {
  /** Idempotent: installs, starts only what is not running, records what it measured. */
  up(say: Say): Promise<unknown>;
  /** Removes owned leftovers, then stops exactly the processes `up` started. */
  down(say: Say, opts: { purge?: boolean }): Promise<void>;
  /** What `up` measured, or undefined when it never ran. */
  status(): Promise<unknown>;
}

const labs: Record<string, () => Promise<Lab>> = {
  libvirt: async () => {
    const m = await import('../adapters/libvirt/lab.js');
    return { up: m.libvirtUp, down: m.libvirtDown, status: m.readLibvirtLabState };
  },
  'site-b': async () => {
    const m = await import('../adapters/libvirt/site-b/lab.js');
    return { up: m.siteBUp, down: m.siteBDown, status: m.readSiteBState };
  },
  nats: async () => {
    const m = await import('./nats.js');
    return { up: m.natsUp, down: m.natsDown, status: m.readNatsLabState };
  },
  proxmox: async () => {
    const m = await import('../adapters/proxmox/lab.js');
    return { up: m.proxmoxUp, down: m.proxmoxDown, status: m.readProxmoxLabState };
  },
  incus: async () => {
    const m = await import('../adapters/incus/lab/lab.js');
    return { up: m.incusUp, down: m.incusDown, status: m.readIncusLabState };
  },
  openstack: async () => {
    const m = await import('../adapters/openstack/lab.js');
    return { up: m.openstackUp, down: m.openstackDown, status: m.readOpenStackLabState };
  },
};

export const labNames = Object.keys(labs);

export const isLab = (name: string): boolean => name in labs;

export async function lab(name: string): Promise<Lab> {
  const load = labs[name];
  if (!load) throw new Error(`no local lab named '${name}' (available: ${labNames.join(', ')})`);
  return load();
}

/**
 * The local labs a run of these platforms needs, in bring-up order: each platform's own lab where
 * there is one, then the local labs that provide the further sites its config declares.
 */
export function labsFor(config: LabConfig, platforms: Platform[]): string[] {
  const out: string[] = platforms.filter(isLab);
  for (const p of platforms) {
    const sites = p === 'libvirt' ? (config.platforms.libvirt?.sites ?? []) : [];
    for (const s of sites) if (s.lab && isLab(s.lab) && !out.includes(s.lab)) out.push(s.lab);
  }
  if (config.nats?.local && !out.includes('nats')) out.push('nats');
  return out;
}
