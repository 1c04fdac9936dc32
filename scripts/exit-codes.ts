/** Which exit code an error that reached the CLI's top level gets (run/exit-codes.ts names them). */
import { CommanderError, InvalidArgumentError } from 'commander';
import { AuthFailed, ConfigInvalid, NotOwned } from '../evidence/errors.js';
import type { GateCheck } from '../reports/fail-on.js';
import { exitCodes } from '../run/exit-codes.js';

export function exitCodeFor(e: unknown): number {
  // commander's own: help and version are not errors; a bad option or argument is bad input.
  if (e instanceof InvalidArgumentError) return exitCodes.badInput;
  if (e instanceof CommanderError) return e.exitCode === 0 ? exitCodes.ok : exitCodes.badInput;
  // What the caller gave: a config, an option, a credential, an object the harness does not own.
  if (e instanceof ConfigInvalid || e instanceof AuthFailed || e instanceof NotOwned) return exitCodes.badInput;
  // Anything else (platform unreachable, timeout, a lab that did not come up, a harness bug).
  return exitCodes.harness;
}

/** A --fail-on check's exit code: a harness error says more than a failure. */
export const gateExitCode = (g: GateCheck): number =>
  g.harness.length > 0 ? exitCodes.harness : g.failed.length > 0 ? exitCodes.failed : exitCodes.ok;

export const exitCodeHelp = `Exit codes:
  0    every selected requirement gave a verdict and the gate holds what --fail-on asked (default: none failed)
  1    requirements failed (or the run left objects behind), or with evaluate/report --fail-on not-acceptable
       or inconclusive a platform gate short of it; preflight, inventory reconcile: findings
  2    bad input: config, option, credential (the message names the field; --debug adds the stack)
  3    harness or lab error: a platform unreachable, a lab that did not come up, an \`error\` verdict,
       a run that ran nothing or not what was selected (report: or did not finish), a report not written
  130  interrupted by SIGINT (Ctrl-C); 143 by SIGTERM`;
