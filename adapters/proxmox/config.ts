import { z } from 'zod';
import { secretRef, waitsSchema } from '../contract/index.js';

/** A Proxmox VE cluster node reached over HTTPS with an API token (or the local simulator, `simulator: true`). */
export const proxmoxConfigSchema = z.strictObject({
  url: z
    .string()
    .regex(/^https:\/\/[^/]+(:\d+)?\/api2\/json$/, 'https://HOST:8006/api2/json')
    .default('https://127.0.0.1:18006/api2/json'),
  node: z.string().min(1).default('pve1'),
  tokenId: z
    .string()
    .regex(/^[^@\s]+@[^!\s]+![A-Za-z][A-Za-z0-9._-]*$/, 'an API token id USER@REALM!TOKENID')
    .default('root@pam!vmconform'),
  tokenSecret: secretRef.default({ file: '/var/lib/vmconform/proxmox/token-secret' }),
  /** TLS verification is always on: a CA bundle file, a pinned SHA-256 fingerprint, or the system CAs. */
  tls: z
    .strictObject({
      caFile: z.string().optional(),
      fingerprint256: z
        .union([
          z.string().regex(/^([0-9A-Fa-f]{2}:?){32}$/, 'a SHA-256 fingerprint'),
          z.strictObject({ file: z.string() }),
        ])
        .optional(),
    })
    .default({}),
  storage: z.string().default('local-lvm'),
  snippetStorage: z.string().default('local'),
  /** Where the snippet storage's snippets/ directory is writable from the harness host (e.g. an NFS mount). */
  snippetsDir: z.string().optional(),
  backupStorage: z.string().default('local'),
  pool: z.string().optional(),
  image: z.string().default('vmc-base-v1'),
  network: z.string().default('vmbr0'),
  network2: z.string().default('vmbr1'),
  externalBridge: z.string().optional(),
  site: z.string().optional(),
  failureDomain: z.string().optional(),
  /** The endpoint is vmconform's API simulator: every pass is reported `simulated`, never as platform evidence. */
  simulator: z.boolean().default(false),
  waits: waitsSchema,
});

export type ProxmoxPlatformConfig = z.infer<typeof proxmoxConfigSchema>;
