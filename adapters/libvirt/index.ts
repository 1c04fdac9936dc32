/** libvirt, registered once: everything about it lives in this folder. */
import { definePlatform } from '../contract/index.js';
import { libvirtConfigSchema } from './config.js';

export const libvirt = definePlatform({
  name: 'libvirt',
  configSchema: libvirtConfigSchema,
  connect: async (section, opts) => (await import('./target.js')).connectLibvirt(section, opts),
  labs: {
    libvirt: async () => {
      const m = await import('./lab.js');
      return { up: m.libvirtUp, down: m.libvirtDown, status: m.readLibvirtLabState };
    },
    'site-b': async () => {
      const m = await import('./site-b/lab.js');
      return { up: m.siteBUp, down: m.siteBDown, status: m.readSiteBState };
    },
  },
  // A further site provided by a local lab (site B) needs that lab up too.
  labsFor: (section) => section.sites.flatMap((s) => (s.lab ? [s.lab] : [])),
  directBaseline: async (ctx) => (await import('./direct.js')).virshDirect(ctx),
});
