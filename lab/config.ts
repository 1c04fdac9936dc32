/**
 * Lab config (lab.yaml): validated against a schema before anything is touched. Errors name the
 * file, the field and what was expected. Secrets are referenced by env var or file, never inline.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import type { Platform } from '../adapters/driver.js';
import { ConfigInvalid } from '../adapters/errors.js';
import { registerSecret } from '../reports/redact.js';
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

const libvirt = z.strictObject({
  uri: z
    .string()
    .regex(/^qemu(\+\w+)?:\/\//, 'a libvirt URI such as qemu:///system or qemu+ssh://host/system')
    .default(d.uri),
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
  ssh: z.strictObject({ user: z.string(), privateKey: secretRef }).optional(),
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
  /** Canary and other values to redact everywhere, by reference. */
  secrets: z.array(secretRef).default([]),
  platforms: z
    .strictObject({
      libvirt: libvirt.optional(),
      openstack: openstack.optional(),
    })
    .refine((p) => Object.keys(p).length > 0, 'at least one platform (libvirt, openstack)'),
});

export type LabConfig = z.infer<typeof labConfigSchema>;
export type LibvirtPlatformConfig = z.infer<typeof libvirt>;
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
