/** Option parsers the commands share, and the one place the CLI prints progress (through the redactor). */
import { InvalidArgumentError } from 'commander';
import { type Platform, platforms } from '../adapters/platforms.js';
import { redactText } from '../evidence/redact.js';
import { isLab, labNames } from '../lab/labs.js';
import { type FailOn, failOnLevels } from '../reports/fail-on.js';

// Everything the CLI prints passes the redactor: a registered secret never reaches the terminal or CI log.
/** Progress and diagnostics: stderr, so stdout carries only what a command answers (its data). */
export const say = (msg: string) => process.stderr.write(redactText(`[vmconform] ${msg}\n`));
/** Same as say (the name from before progress moved to stderr everywhere). */
export const sayErr = say;
/** A line of a command's data: its result, on stdout. */
export const sayOut = (msg: string) => process.stdout.write(redactText(`[vmconform] ${msg}\n`));
export function labName(value: string): string {
  if (!isLab(value))
    throw new InvalidArgumentError(`expected one of: ${labNames.join(', ')} (the local labs this build can bring up)`);
  return value;
}

export function platformList(value: string, previous?: Platform[]): Platform[] {
  const list = value.split(',').map((s) => s.trim());
  for (const p of list) {
    if (!(platforms as readonly string[]).includes(p))
      throw new InvalidArgumentError(`unknown platform '${p}': expected one of ${platforms.join(', ')}`);
  }
  // A repeated -p adds to the list (-p proxmox -p incus), as a comma-separated one does.
  return [...new Set([...(previous ?? []), ...(list as Platform[])])];
}

export function duration(value: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(value);
  if (!m) throw new InvalidArgumentError('expected a number with a unit s, m, h or d (e.g. 30m, 2h)');
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

/** --fail-on: anything but a level is bad input (exit 2). */
export function failOnLevel(value: string): FailOn {
  if (!(failOnLevels as readonly string[]).includes(value))
    throw new InvalidArgumentError(`expected one of: ${failOnLevels.join(', ')}`);
  return value as FailOn;
}

export const failOnHelp =
  'what exits 1, each level including the ones before: fail (a requirement failed or objects were left behind), not-acceptable (also a platform gate not acceptable), inconclusive (also a gate inconclusive)';
