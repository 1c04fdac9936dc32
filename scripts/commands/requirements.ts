/** `vmconform requirements`: the requirement registry, which tests cover it, and the files generated from it. */
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { buildCoverage, readSuiteTests } from '../../requirements/coverage.js';
import { writeGenerated } from '../../requirements/generated.js';
import { requirements } from '../../requirements/registry.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const out = (line: string) => process.stdout.write(`${line}\n`);

export function registerRequirements(program: Command): void {
  program
    .command('requirements')
    .description('list the requirement registry (id, level, dimension, verification, suite)')
    .option(
      '--coverage',
      'list the tests that evidence each requirement, read from the suites (id, level, verification, tests)',
    )
    .option(
      '--write',
      'rewrite the files generated from the registry and the suites (requirements/catalogue.md, coverage.json)',
    )
    .option('--json', 'print the registry (or with --coverage the tests per id) as JSON')
    .action((opts: { coverage?: boolean; write?: boolean; json?: boolean }) => {
      if (opts.write) {
        const changed = writeGenerated(repoRoot);
        out(changed.length > 0 ? `rewrote ${changed.join(', ')}` : 'generated files are up to date');
        return;
      }
      if (opts.coverage) {
        const coverage = buildCoverage(requirements, readSuiteTests(repoRoot));
        if (opts.json) {
          out(JSON.stringify(coverage, null, 2));
          return;
        }
        const width = Math.max(...Object.values(coverage).flatMap((ts) => ts.map((t) => t.file.length)));
        const row = (id: string, level: string, verification: string, tests: string) =>
          out(`${id.padEnd(7)} ${level.padEnd(6)} ${verification.padEnd(12)} ${tests}`);
        row('id', 'level', 'verification', 'tests');
        for (const r of requirements) {
          const tests = coverage[r.id] ?? [];
          if (tests.length === 0)
            row(r.id, r.level, r.verification, r.verification === 'manual' ? '(assessment file)' : '(no test)');
          tests.forEach((t, i) => {
            if (i === 0) row(r.id, r.level, r.verification, `${t.file.padEnd(width)}  ${t.test}`);
            else row('', '', '', `${t.file.padEnd(width)}  ${t.test}`);
          });
        }
        return;
      }
      if (opts.json) {
        out(JSON.stringify(requirements, null, 2));
        return;
      }
      for (const r of requirements)
        out(
          `${r.id.padEnd(7)} ${r.level.padEnd(6)} ${r.dimension.padEnd(11)} ${r.verification.padEnd(6)} ${r.suite ?? '(manual)'}  ${r.title}`,
        );
    });
}
