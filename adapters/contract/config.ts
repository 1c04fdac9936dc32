/**
 * Pieces every platform's config schema uses: secrets named by reference (never inline), and wait
 * policies a lab may override per operation.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ConfigInvalid } from '../../evidence/errors.js';
import { registerSecret } from '../../evidence/redact.js';

export const waitPolicySchema = z.strictObject({
  deadlineMs: z.number().int().positive(),
  intervalMs: z.number().int().positive(),
  backoff: z.number().min(1),
  maxIntervalMs: z.number().int().positive(),
});

/** Per-operation overrides of the default wait policies. */
export const waitsSchema = z.record(z.string(), waitPolicySchema).optional();

/** A secret is named, never written: `{ env: NAME }` or `{ file: /path }`. */
export const secretRef = z.union([
  z.strictObject({ env: z.string().min(1) }),
  z.strictObject({ file: z.string().min(1) }),
]);
export type SecretRef = z.infer<typeof secretRef>;

/** Reads a secret from env or file and registers it with the redactor, so it appears nowhere. */
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
