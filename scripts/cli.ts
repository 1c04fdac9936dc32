/** vmconform command line: a thin shell over run/, features/, lab/ and reports/; one file per command. */
import { CommanderError, InvalidArgumentError } from 'commander';
import { redactText } from '../evidence/redact.js';
import { exitCodeFor } from './exit-codes.js';
import { buildProgram } from './program.js';

const program = buildProgram();

try {
  await program.parseAsync();
} catch (e) {
  // commander already printed its own errors (bad option, unknown command); help and version are not errors.
  if (!(e instanceof CommanderError) || e instanceof InvalidArgumentError) {
    process.stderr.write(redactText(`vmconform: ${e instanceof Error ? e.message : String(e)}\n`));
    if (program.opts().debug) process.stderr.write(redactText(`${(e as Error).stack}\n`));
  }
  process.exitCode = exitCodeFor(e);
}
