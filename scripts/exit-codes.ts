/** Which exit code an error that reached the CLI's top level gets (run/exit-codes.ts names them). */
import { CommanderError, InvalidArgumentError } from 'commander';
import { AuthFailed, ConfigInvalid, NotOwned } from '../evidence/errors.js';
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

export const exitCodeHelp = `Exit codes:
  0    every selected requirement gave a verdict and none failed
  1    requirements failed (or the run left objects behind); preflight, inventory reconcile: findings
  2    bad input: config, option, credential (the message names the field; --debug adds the stack)
  3    harness or lab error: a platform unreachable, a lab that did not come up, an \`error\` verdict,
       a run that ran nothing or not what was selected, a report that could not be written
  130  interrupted by SIGINT (Ctrl-C); 143 by SIGTERM`;
