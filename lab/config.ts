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

export const labConfigSchema = z.strictObject({
  outputDir: z.string().default('out'),
  /** Canary and other values to redact everywhere, by reference. */
  secrets: z.array(secretRef).default([]),
  predictability,
  platforms: z
    .strictObject({
      libvirt: libvirt.optional(),
    })
    .refine((p) => Object.keys(p).length > 0, 'at least one platform (libvirt)'),
});

export type LabConfig = z.infer<typeof labConfigSchema>;
export type LibvirtPlatformConfig = z.infer<typeof libvirt>;
export type LibvirtSiteConfig = z.infer<typeof libvirtSite>;

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
