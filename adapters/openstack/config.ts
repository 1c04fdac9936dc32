/** The `platforms.openstack` section of the lab config: Keystone v3 credentials; every endpoint from the catalog. */
import { z } from 'zod';
import { secretRef, waitsSchema } from '../contract/index.js';
import { openstackLabDefaults as os } from './lab.js';

const microversion = z.string().regex(/^\d+\.\d+$/, 'a microversion such as 2.93');

export const openstackConfigSchema = z.strictObject({
  /** Keystone v3 URL; every other endpoint comes from the token's catalog. */
  authUrl: z.url().default(os.authUrl),
  region: z.string().optional(),
  interface: z.enum(['public', 'internal', 'admin']).default('public'),
  auth: z
    .discriminatedUnion('method', [
      z.strictObject({
        method: z.literal('password'),
        username: z.string().default('admin'),
        userDomain: z.string().default('Default'),
        project: z.string().default('admin'),
        projectDomain: z.string().default('Default'),
        password: secretRef,
      }),
      z.strictObject({ method: z.literal('application-credential'), id: z.string().min(1), secret: secretRef }),
    ])
    .default({
      method: 'password',
      username: 'admin',
      userDomain: 'Default',
      project: 'admin',
      projectDomain: 'Default',
      password: { file: os.passwordFile },
    }),
  /**
   * Where a server's root disk lives: 'volume' boots from a Cinder volume made from the image (restores
   * need it), 'image' from a local disk on the compute host (no Cinder in the boot path; data disks are
   * still volumes).
   */
  boot: z.enum(['volume', 'image']).default('volume'),
  /** Glance image (id or name) the suites boot. */
  image: z.string().default(os.image),
  network: z.string().default(os.network),
  network2: z.string().default(os.network2),
  /** A bridge the platform did not create, and the Neutron provider network mapped onto it (NIC-05). */
  externalBridge: z.string().optional().default(os.externalBridge),
  externalNetwork: z.string().optional().default(os.externalNetwork),
  /** 'simulated' for a cloud whose nova-compute runs the fake driver: its results prove the API, not VMs. */
  evidence: z.enum(['real', 'simulated']).default('real'),
  microversions: z
    .strictObject({
      compute: microversion.default('2.93'),
      volume: microversion.default('3.70'),
      placement: microversion.default('1.39'),
    })
    .default({ compute: '2.93', volume: '3.70', placement: '1.39' }),
  tls: z.strictObject({ caFile: z.string().optional(), fingerprint256: z.string().optional() }).optional(),
  /** When true the harness may restart the control plane (only the embedded local lab). */
  labControl: z.boolean().default(true),
  waits: waitsSchema,
});

export type OpenStackPlatformConfig = z.infer<typeof openstackConfigSchema>;
