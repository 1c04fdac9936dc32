/** The `platforms.libvirt` section of the lab config: one libvirt host, and further sites for MDC-01..04. */
import { z } from 'zod';
import { secretRef, waitsSchema } from '../contract/index.js';
import { libvirtLabDefaults as d } from './lab.js';

const libvirtUri = z
  .string()
  .regex(/^qemu(\+\w+)?:\/\//, 'a libvirt URI such as qemu:///system or qemu+ssh://host/system');

/** SSH to a remote libvirt host: the key for ssh2 (guest console reads) and the host keys it must match. */
const ssh = z.strictObject({
  user: z.string(),
  privateKey: secretRef,
  /** known_hosts file (OpenSSH format) the host key is checked against; without it ssh2 refuses to connect. */
  knownHosts: z.string().optional(),
});

/**
 * Another libvirt host of the same platform in its own site (MDC-01..04). libvirt has one daemon per
 * host, so each site has its own URI; pools, networks and the image are named as on the first site.
 */
const libvirtSite = z.strictObject({
  name: z.string().min(1),
  failureDomain: z.string().min(1).optional(),
  uri: libvirtUri,
  ssh: ssh.optional(),
  /** The embedded local lab that provides this site (`vmconform lab up NAME`), when there is one. */
  lab: z.string().optional(),
  /** Where the site's domains write their serial console (read over ssh for the guest view). */
  consoleDir: z.string().optional(),
  labControl: z.boolean().default(true),
});

export const libvirtConfigSchema = z
  .strictObject({
    uri: libvirtUri.default(d.uri),
    pool: z.string().default(d.pool),
    imagePool: z.string().default(d.imagePool),
    image: z.string().default(`${d.imagePool}/${d.image}`),
    network: z.string().default(d.network),
    network2: z.string().default(d.network2),
    externalBridge: z.string().default(d.externalBridge),
    accel: z.enum(['auto', 'kvm', 'tcg']).default('auto'),
    site: z.string().optional(),
    failureDomain: z.string().optional(),
    /** When true the harness may restart this host's libvirtd (only the embedded local lab). */
    labControl: z.boolean().default(true),
    waits: waitsSchema,
    ssh: ssh.optional(),
    /** Where this host's domains log their serial console (default: the local lab's folder). */
    consoleDir: z.string().optional(),
    /** Further sites; `site` and `failureDomain` above label this first one. */
    sites: z.array(libvirtSite).default([]),
    /** A Talos raw disk image on this machine; IMG-04 boots it when named, else reports prereq-missing. */
    talosImage: z.string().optional(),
    /**
     * The QEMU binary this host's domains name as <emulator> (default: libvirt's own). The lab test that
     * proves a lying QEMU fails the guest checks sets a wrapper here, per domain, changing nothing global.
     */
    emulator: z.string().optional(),
  })
  .superRefine((c, ctx) => {
    if (c.sites.length > 0 && !c.site)
      ctx.addIssue({
        code: 'custom',
        path: ['site'],
        message: 'a site name for this first host (required when sites lists more)',
      });
    const seen = new Set(c.site ? [c.site] : []);
    for (const [i, s] of c.sites.entries()) {
      if (seen.has(s.name))
        ctx.addIssue({
          code: 'custom',
          path: ['sites', i, 'name'],
          message: `site name '${s.name}' is used twice (expected unique site names)`,
        });
      seen.add(s.name);
    }
  });

export type LibvirtPlatformConfig = z.infer<typeof libvirtConfigSchema>;
export type LibvirtSiteConfig = z.infer<typeof libvirtSite>;
