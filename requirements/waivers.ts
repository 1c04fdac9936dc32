/**
 * Waivers: accepted risk, written down. A waiver file (YAML, validated with file, line and field) accepts a
 * non-pass of one requirement on one platform, with a reason, an owner and an expiry date. A report shows a
 * waived verdict as waived (never as a pass) and counts it apart; once the date has passed the waiver stops
 * applying and the report says so. `vmconform test` reads its known platform findings as such a file.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { platformName } from '../evidence/bundle.js';
import { ConfigInvalid } from '../evidence/errors.js';
import type { RequirementOutcome } from '../evidence/verdict.js';
import { parseYamlFile } from '../evidence/yaml-file.js';
import { isRequirementId } from './registry.js';

const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as YYYY-MM-DD')
  // Round-trips only when the day exists (Date.parse takes 2027-02-30 for 2 March).
  .refine((d) => {
    const t = Date.parse(`${d}T00:00:00Z`);
    return !Number.isNaN(t) && new Date(t).toISOString().startsWith(d);
  }, 'not a calendar date');

const validRegex = (s: string) => {
  try {
    new RegExp(s);
    return true;
  } catch {
    return false;
  }
};

const waiver = z.strictObject({
  platform: platformName,
  requirement: z.string().refine(isRequirementId, 'a requirement id of the registry (e.g. LC-01)'),
  /** Why the non-pass is accepted. */
  reason: z.string().min(1),
  /** Who answers for it. */
  owner: z.string().min(1),
  /** The last day it applies (UTC). */
  expires: isoDate,
  /** Optional: a regular expression over `<reasonCode>: <reason>`, so only that failure is waived. */
  match: z.string().refine(validRegex, 'a valid regular expression').optional(),
  /** When the non-pass was first seen. */
  observed: isoDate.optional(),
});

const waiverFile = z.strictObject({ waivers: z.array(waiver) });

export type Waiver = z.infer<typeof waiver>;

export function parseWaivers(text: string, file: string): Waiver[] {
  return parseYamlFile(waiverFile, text, file).waivers;
}

export async function loadWaivers(file: string): Promise<Waiver[]> {
  const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new ConfigInvalid(`${file}: cannot read waiver file (${e.code ?? e.message})`);
  });
  return parseWaivers(text, file);
}

/** A waiver applies through its expiry date (UTC) and not after. */
export const isExpired = (w: Pick<Waiver, 'expires'>, today: Date) => w.expires < today.toISOString().slice(0, 10);

/** e.g. "waived until 2027-06-30 by lab team: Incus drops ..." */
export const waiverText = (w: Waiver, today: Date) =>
  isExpired(w, today)
    ? `waiver expired on ${w.expires} (owner ${w.owner}), no longer applies: ${w.reason}`
    : `waived until ${w.expires} by ${w.owner}: ${w.reason}`;

/**
 * The waiver for a non-pass outcome of these requirements on this platform, if one is written: an active
 * one wins over an expired one. A pass needs none.
 */
export function waiverFor(
  waivers: readonly Waiver[],
  platform: string,
  requirements: readonly string[],
  outcome: RequirementOutcome,
  today: Date,
): { waiver: Waiver; expired: boolean } | undefined {
  if (outcome.verdict === 'pass') return undefined;
  const text = `${outcome.reasonCode ?? ''}: ${outcome.reason ?? ''}`;
  const found = waivers
    .filter((w) => w.platform === platform && requirements.includes(w.requirement))
    .filter((w) => !w.match || new RegExp(w.match).test(text))
    .map((waiver) => ({ waiver, expired: isExpired(waiver, today) }));
  return found.find((f) => !f.expired) ?? found[0];
}
