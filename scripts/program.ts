/** vmconform's command tree: one file per command under commands/, exit codes in --help. */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
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
import { exitCodeHelp } from './exit-codes.js';

const harnessVersion = () =>
  (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The whole command tree, without parsing: the CLI runs it, the README test reads it. */
export function buildProgram(): Command {
  const program = new Command()
    .name('vmconform')
    .description(
      'Drives real hypervisor APIs through one driver contract and records evidence against the VM platform requirement catalogue.',
    )
    .version(
      harnessVersion(),
      '-V, --version',
      'print the harness version (package.json; bundles also record the commit)',
    )
    .option('--debug', 'print stack traces on errors')
    .addHelpText('after', `\n${exitCodeHelp}`)
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
  return program;
}
