/** Secrets registered here are replaced wherever text leaves the process: logs, transcripts, results. */
const secrets = new Set<string>();

export const REDACTED = '[REDACTED]';

export function registerSecret(value: string): void {
  // Very short values would redact innocent text and give a false sense of safety; config rejects them.
  if (value.length >= 4) secrets.add(value);
}

export function redactText(text: string): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join(REDACTED);
  return out;
}

/** Deep-redacts any JSON-shaped value. */
export function redact<T>(value: T): T {
  if (secrets.size === 0) return value;
  return JSON.parse(redactText(JSON.stringify(value))) as T;
}
