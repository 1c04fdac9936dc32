/** `vmconform test`: the project's own test pass, what CI runs; ends with the summary line. */
import type { Command } from 'commander';
import { signalExitCode } from '../../run/exit-codes.js';
import { testPass } from '../../run/test-pass.js';
import { say } from '../options.js';

export function registerTest(program: Command): void {
  program
    .command('test')
    .description(
      'the project test pass: bring up the local labs of lab/lab.local.yaml, run the unit and lab-harness tests, then the conformance suites on every platform there; a platform finding listed in requirements/known-findings.yaml (a waiver file) counts as skipped until its waiver expires (its evidence stays fail) and fails the pass once it no longer reproduces; ends with "N passed, N failed, N skipped"',
    )
    .option('--unit-only', 'only the unit tests (no lab needed)')
    .action(async (opts: { unitOnly?: boolean }) => {
      const total = await testPass(opts, say);
      if (total.total === 0) say('no test ran: that is a failure, not a success');
      process.stdout.write(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped\n`);
      process.exitCode = total.interrupted
        ? signalExitCode(total.signal ?? 'SIGINT')
        : total.failed > 0 || total.total === 0 || total.exitCode !== 0
          ? 1
          : 0;
    });
}
