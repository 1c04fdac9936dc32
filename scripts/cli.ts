/** vmconform command line: a thin shell over run/, features/, lab/ and reports/; one file per command. */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { isVmconformError } from '../evidence/errors.js';
import { redactText } from '../evidence/redact.js';
import { registerBridge } from './commands/bridge.js';
import { registerEvaluate } from './commands/evaluate.js';
import { registerFaultProxy } from './commands/fault-proxy.js';
import { registerInventory } from './commands/inventory.js';
import { registerLab } from './commands/lab.js';
import { registerPreflight } from './commands/preflight.js';
import { registerReport } from './commands/report.js';
import { registerRequirements } from './commands/requirements.js';
import { registerSweep } from './commands/sweep.js';
import { registerTest } from './commands/test.js';
import { registerVerify } from './commands/verify.js';

const program = new Command()
  .name('vmconform')
  .description(
    'Drives real hypervisor APIs through one driver contract and records evidence against the VM platform requirement catalogue.',
  )
  .option('--debug', 'print stack traces on errors')
  // Bad input exits 2 (documented); commander's own default is 1.
  .exitOverride();

for (const register of [
  registerLab,
  registerPreflight,
  registerEvaluate,
  registerReport,
  registerTest,
  registerSweep,
  registerInventory,
  registerBridge,
  registerFaultProxy,
  registerRequirements,
  registerVerify,
])
  register(program);

try {
  await program.parseAsync();
} catch (e) {
  if (e instanceof CommanderError) {
    // commander already printed its message; help and version are not errors.
    process.exitCode = e.exitCode === 0 ? 0 : 2;
  } else if (isVmconformError(e) || e instanceof InvalidArgumentError) {
    process.stderr.write(redactText(`vmconform: ${e.message}\n`));
    if (program.opts().debug) process.stderr.write(redactText(`${(e as Error).stack}\n`));
    process.exitCode = 2;
  } else {
    process.stderr.write(redactText(`vmconform: ${e instanceof Error ? e.message : String(e)}\n`));
    if (program.opts().debug) process.stderr.write(redactText(`${(e as Error).stack}\n`));
    process.exitCode = 1;
  }
}
