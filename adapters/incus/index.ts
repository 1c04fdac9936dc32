/** Incus, registered once: everything about it lives in this folder. */
import { definePlatform } from '../contract/index.js';
import { incusConfigSchema } from './config.js';

export const incus = definePlatform({
  name: 'incus',
  configSchema: incusConfigSchema,
  connect: async (section, opts) => (await import('./target.js')).connectIncus(section, opts),
  labs: {
    incus: async () => {
      const [m, state] = await Promise.all([import('./lab/lab.js'), import('./lab/state.js')]);
      return { up: m.incusUp, down: m.incusDown, status: state.readIncusLabState };
    },
  },
  directBaseline: async (ctx) => (await import('./direct.js')).incusRestDirect(ctx),
});
