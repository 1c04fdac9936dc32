/**
 * Lab config (lab.yaml): validated against a schema before anything is touched. Errors name the
 * file, the field and what was expected. Secrets are referenced by env var or file, never inline.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ConfigInvalid } from '../evidence/errors.js';
import { registerSecret } from '../evidence/redact.js';
import type { Platform } from './contract/driver.js';
import { incusLabDefaults as inc } from './incus/lab/lab.js';
import { libvirtLabDefaults as d } from './libvirt/lab.js';
import { openstackLabDefaults as os } from './openstack/lab.js';

const waitPolicy = z.strictObject({
  deadlineMs: z.number().int().positive(),
  intervalMs: z.number().int().positive(),
  backoff: z.number().min(1),
  maxIntervalMs: z.number().int().positive(),
});

/** A secret is named, never written: `{ env: NAME }` or `{ file: /path }`. */
export const secretRef = z.union([
  z.strictObject({ env: z.string().min(1) }),
  z.strictObject({ file: z.string().min(1) }),
]);
export type SecretRef = z.infer<typeof secretRef>;

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

const libvirt = z
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
    waits: z.record(z.string(), waitPolicy).optional(),
    ssh: ssh.optional(),
    /** Where this host's domains log their serial console (default: the local lab's folder). */
    consoleDir: z.string().optional(),
    /** Further sites; `site` and `failureDomain` above label this first one. */
    sites: z.array(libvirtSite).default([]),
    /** A Talos raw disk image on this machine; IMG-04 boots it when named, else reports prereq-missing. */
    talosImage: z.string().optional(),
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

/**
 * LC-07/LC-08 settings. Defaults: 20 repetitions per lifecycle op (the fewest for which the
 * nearest-rank p95 is not simply the slowest sample), p95/median at most 2.0, 4 VMs created and
 * deleted at once.
 */
export const predictabilityDefaults = { repetitions: 20, maxP95OverMedian: 2, concurrentVms: 4 };
const predictability = z
  .strictObject({
    repetitions: z.number().int().min(3).max(100).default(predictabilityDefaults.repetitions),
    maxP95OverMedian: z.number().min(1).default(predictabilityDefaults.maxP95OverMedian),
    concurrentVms: z.number().int().min(2).max(32).default(predictabilityDefaults.concurrentVms),
  })
  .default(predictabilityDefaults);

/** A NATS server the bridge publishes to (INT-03); the embedded lab runs one on loopback. */
const nats = z.strictObject({
  url: z
    .string()
    .regex(/^nats:\/\/[^\s/]+$/, 'a NATS URL such as nats://127.0.0.1:4222')
    .default('nats://127.0.0.1:4222'),
  /** First subject token; messages go to <prefix>.<platform>.<kind>. */
  subjectPrefix: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'one NATS subject token (letters, digits, _ or -)')
    .default('vmconform'),
  /** When true, `lab up` (and evaluate/test) bring up the embedded nats-server; false for an external one. */
  local: z.boolean().default(true),
  token: secretRef.optional(),
});

/** A Proxmox VE cluster node reached over HTTPS with an API token (or the local simulator, `simulator: true`). */
const proxmox = z.strictObject({
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
  waits: z.record(z.string(), waitPolicy).optional(),
});

const incus = z.strictObject({
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
  waits: z.record(z.string(), waitPolicy).optional(),
});

const microversion = z.string().regex(/^\d+\.\d+$/, 'a microversion such as 2.93');

const openstack = z.strictObject({
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
  waits: z.record(z.string(), waitPolicy).optional(),
});

export const labConfigSchema = z.strictObject({
  outputDir: z.string().default('out'),
  nats: nats.optional(),
  /** Canary and other values to redact everywhere, by reference. */
  secrets: z.array(secretRef).default([]),
  predictability,
  platforms: z
    .strictObject({
      libvirt: libvirt.optional(),
      incus: incus.optional(),
      proxmox: proxmox.optional(),
      openstack: openstack.optional(),
    })
    .refine((p) => Object.keys(p).length > 0, 'at least one platform (libvirt, incus, proxmox, openstack)'),
});

export type LabConfig = z.infer<typeof labConfigSchema>;
export type LibvirtPlatformConfig = z.infer<typeof libvirt>;
export type LibvirtSiteConfig = z.infer<typeof libvirtSite>;
export type NatsConfig = z.infer<typeof nats>;
export type ProxmoxPlatformConfig = z.infer<typeof proxmox>;
export type IncusPlatformConfig = z.infer<typeof incus>;
export type OpenStackPlatformConfig = z.infer<typeof openstack>;

export async function resolveSecret(ref: SecretRef, field: string): Promise<string> {
  let value: string | undefined;
  if ('env' in ref) {
    value = process.env[ref.env];
    if (value === undefined)
      throw new ConfigInvalid(`${field}: environment variable ${ref.env} is not set (expected the secret there)`);
  } else {
    value = await readFile(ref.file, 'utf8').then(
      (s) => s.trim(),
      (e: NodeJS.ErrnoException) => {
        throw new ConfigInvalid(`${field}: cannot read secret file ${ref.file} (${e.code ?? e.message})`);
      },
    );
  }
  if (value.length < 4) throw new ConfigInvalid(`${field}: secret is shorter than 4 characters`);
  registerSecret(value);
  return value;
}

/** Parses and validates; every problem is reported with file, line and field path. */
export function parseLabConfig(text: string, file: string): LabConfig {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigInvalid(`${file}: not valid YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
  }
  const result = labConfigSchema.safeParse(doc.toJS() ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => {
    const path = i.path.join('.');
    const node = i.path.length ? doc.getIn(i.path, true) : undefined;
    const range = (node as { range?: [number, number] } | undefined)?.range;
    const line = range ? text.slice(0, range[0]).split('\n').length : undefined;
    return `${file}${line ? `:${line}` : ''}: ${path || '(top level)'}: ${i.message}`;
  });
  throw new ConfigInvalid(problems.join('\n'));
}

export async function loadLabConfig(file: string): Promise<{ config: LabConfig; hash: string }> {
  const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new ConfigInvalid(`${file}: cannot read lab config (${e.code ?? e.message})`);
  });
  const config = parseLabConfig(text, file);
  for (const [i, s] of config.secrets.entries()) await resolveSecret(s, `secrets[${i}]`);
  // Hash of the validated config: it holds only secret references, never values.
  const hash = createHash('sha256').update(JSON.stringify(config)).digest('hex');
  return { config, hash };
}

/** Platforms the config has a section for, in the config's order. */
export function configuredPlatforms(config: LabConfig): Platform[] {
  return Object.keys(config.platforms).filter((k) => config.platforms[k as keyof LabConfig['platforms']]) as Platform[];
}
