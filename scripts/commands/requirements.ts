/** `vmconform requirements`: the requirement registry. */
import type { Command } from 'commander';
import { requirements } from '../../requirements/registry.js';

export function registerRequirements(program: Command): void {
  program
    .command('requirements')
    .description('list the requirement registry (id, level, dimension, verification, suite)')
    .action(() => {
      for (const r of requirements)
        process.stdout.write(
          `${r.id.padEnd(7)} ${r.level.padEnd(6)} ${r.dimension.padEnd(11)} ${r.verification.padEnd(6)} ${r.suite ?? '(manual)'}  ${r.title}\n`,
        );
    });
}
