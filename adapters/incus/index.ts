/** Incus, registered once: everything about it lives in this folder. */
import { definePlatform } from '../contract/index.js';
import { incusConfigSchema } from './config.js';

export const incus = definePlatform({
  name: 'incus',
  configSchema: incusConfigSchema,
  connect: async (section, opts) => (await import('./target.js')).connectIncus(section, opts),
  labs: {
    incus: async () => {
      const m = await import('./lab/lab.js');
      return { up: m.incusUp, down: m.incusDown, status: m.readIncusLabState };
    },
  },
  directBaseline: async (ctx) => (await import('./direct.js')).incusRestDirect(ctx),
});
