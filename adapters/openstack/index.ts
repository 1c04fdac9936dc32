/** OpenStack, registered once: everything about it (adapter, lab) lives in this folder. */
import { definePlatform } from '../contract/index.js';
import { openstackConfigSchema } from './config.js';

export const openstack = definePlatform({
  name: 'openstack',
  configSchema: openstackConfigSchema,
  connect: async (section, opts) => (await import('./target.js')).connectOpenStack(section, opts),
  labs: {
    openstack: async () => {
      const m = await import('./lab.js');
      return { up: m.openstackUp, down: m.openstackDown, status: m.readOpenStackLabState };
    },
  },
  preflight: async (ctx) => (await import('./preflight.js')).openStackPreflight(ctx),
  directBaseline: () =>
    'no direct sequence built yet: the raw REST lifecycle (server, boot volume, port) against the lab cloud is not written',
});
