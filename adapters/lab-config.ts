/**
 * Lab config (lab.yaml): validated against a schema before anything is touched. Errors name the
 * file, the field and what was expected. Secrets are referenced by env var or file, never inline.
 * Each platform's section is its own folder's schema, composed from the registered descriptors.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ConfigInvalid, resolveSecret, secretRef } from './contract/index.js';
import { type Platform, registry } from './platforms.js';

export { resolveSecret, type SecretRef, secretRef } from './contract/index.js';
export type { IncusPlatformConfig } from './incus/config.js';
export type { LibvirtPlatformConfig, LibvirtSiteConfig } from './libvirt/config.js';
export type { OpenStackPlatformConfig } from './openstack/config.js';
export type { ProxmoxPlatformConfig } from './proxmox/config.js';

/**
 * LC-07/LC-08 settings. Defaults: 20 repetitions per lifecycle op (the fewest for which the
 * nearest-rank p95 is not simply the slowest sample), p95/median at most 2.0, 4 VMs created and
 * deleted at once. A p95 within 100 ms of the median is below what a shared host can resolve (scheduler,
 * GC and background-service jitter: Incus container deletes of ~25 ms showed p95s 33 and 41 ms above the
 * median in two of four CI runs): an operation that fast is predictable whatever the ratio of two tiny
 * numbers says, and automation waiting on it never notices a tenth of a second.
 */
export const predictabilityDefaults = { repetitions: 20, maxP95OverMedian: 2, minSpreadMs: 100, concurrentVms: 4 };
const predictability = z
  .strictObject({
    repetitions: z.number().int().min(3).max(100).default(predictabilityDefaults.repetitions),
    maxP95OverMedian: z.number().min(1).default(predictabilityDefaults.maxP95OverMedian),
    minSpreadMs: z.number().min(0).default(predictabilityDefaults.minSpreadMs),
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

/** The lab config over a registry's platforms; the registered list's is `labConfigSchema` (a test passes another). */
export const labConfigSchemaFor = <S extends z.ZodType>(r: { platformsSchema: S }) =>
  z.strictObject({
    outputDir: z.string().default('out'),
    nats: nats.optional(),
    /** Canary and other values to redact everywhere, by reference. */
    secrets: z.array(secretRef).default([]),
    predictability,
    platforms: r.platformsSchema,
  });

export const labConfigSchema = labConfigSchemaFor(registry);

export type LabConfig = z.infer<typeof labConfigSchema>;
export type NatsConfig = z.infer<typeof nats>;

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
  return registry.names.filter((p) => config.platforms[p] !== undefined);
}
