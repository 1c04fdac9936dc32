/** `vmconform requirements`: the requirement registry, and the files generated from it. */
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { writeGenerated } from '../../requirements/generated.js';
import { requirements } from '../../requirements/registry.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export function registerRequirements(program: Command): void {
  program
    .command('requirements')
    .description('list the requirement registry (id, level, dimension, verification, suite)')
    .option('--write', 'rewrite the files generated from the registry (requirements/catalogue.md)')
    .action((opts: { write?: boolean }) => {
      if (opts.write) {
        const changed = writeGenerated(repoRoot);
        process.stdout.write(
          changed.length > 0 ? `rewrote ${changed.join(', ')}\n` : 'generated files are up to date\n',
        );
        return;
      }
      for (const r of requirements)
        process.stdout.write(
          `${r.id.padEnd(7)} ${r.level.padEnd(6)} ${r.dimension.padEnd(11)} ${r.verification.padEnd(6)} ${r.suite ?? '(manual)'}  ${r.title}\n`,
        );
    });
}
