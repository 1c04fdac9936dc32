/** Proxmox VE, registered once: everything about it (adapter, simulator, lab) lives in this folder. */
import { definePlatform } from '../contract/index.js';
import { proxmoxConfigSchema } from './config.js';

export const proxmox = definePlatform({
  name: 'proxmox',
  configSchema: proxmoxConfigSchema,
  connect: async (section, opts) => (await import('./target.js')).connectProxmox(section, opts),
  labs: {
    proxmox: async () => {
      const m = await import('./lab.js');
      return { up: m.proxmoxUp, down: m.proxmoxDown, status: m.readProxmoxLabState };
    },
  },
  // Privileges per path, storages' content types, the template, the tag policy (preflight.ts).
  preflight: async ({ section }) => {
    const [{ driverConfigOf }, { preflightProxmox }] = await Promise.all([
      import('./target.js'),
      import('./preflight.js'),
    ]);
    return preflightProxmox(await driverConfigOf(section), section);
  },
  directBaseline: () =>
    'no direct sequence built: against the simulator the ratio would be the adapter over raw REST calls to a simulator, not to Proxmox VE',
});
