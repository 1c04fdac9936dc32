/** The `platforms.incus` section of the lab config: a local socket or a remote server with a client certificate. */
import { z } from 'zod';
import { secretRef, waitsSchema } from '../contract/index.js';
import { incusLabDefaults as inc } from './lab/state.js';

export const incusConfigSchema = z.strictObject({
  /** Local unix socket; ignored when `url` names a remote server. */
  socket: z.string().default(inc.socket),
  url: z
    .string()
    .regex(/^https:\/\//, 'an https:// URL such as https://incus1:8443')
    .optional(),
  /** Client certificate and key for a remote server, by file reference; fingerprint256 pins its self-signed cert. */
  tls: z
    .strictObject({
      cert: secretRef.optional(),
      key: secretRef.optional(),
      fingerprint256: z.string().optional(),
    })
    .optional(),
  project: z.string().default(inc.project),
  pool: z.string().default(inc.pool),
  /** auto: virtual machines where the lab measured they start, else containers (evidence says container-only). */
  instanceType: z.enum(['auto', 'virtual-machine', 'container']).default('auto'),
  image: z.string().default(inc.containerImage),
  vmImage: z.string().default(inc.vmImage),
  network: z.string().default(inc.network),
  network2: z.string().default(inc.network2),
  externalBridge: z.string().default(inc.externalBridge),
  site: z.string().optional(),
  failureDomain: z.string().optional(),
  /** When true the harness may restart this host's incusd (only the embedded local lab). */
  labControl: z.boolean().default(true),
  waits: waitsSchema,
});

export type IncusPlatformConfig = z.infer<typeof incusConfigSchema>;
