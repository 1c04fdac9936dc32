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
import { incusLabDefaults as inc } from './incus/lab.js';
import { libvirtLabDefaults as d } from './libvirt/lab.js';

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

export const labConfigSchema = z.strictObject({
  outputDir: z.string().default('out'),
  /** Canary and other values to redact everywhere, by reference. */
  secrets: z.array(secretRef).default([]),
  platforms: z
    .strictObject({
      libvirt: libvirt.optional(),
      incus: incus.optional(),
    })
    .refine((p) => Object.keys(p).length > 0, 'at least one platform (libvirt, incus)'),
});

export type LabConfig = z.infer<typeof labConfigSchema>;
export type LibvirtPlatformConfig = z.infer<typeof libvirt>;
export type IncusPlatformConfig = z.infer<typeof incus>;

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
