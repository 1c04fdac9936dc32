/** Lab commands: bring the embedded local labs up or down, and say what they measured. */
import type { Command } from 'commander';
import { lab, labNames } from '../../lab/labs.js';
import { labUp } from '../../run/labs-up.js';
import { labName, say } from '../options.js';

export function registerLab(program: Command): void {
  const labCmd = program
    .command('lab')
    .description('bring the embedded local labs up or down (installs Debian packages, starts daemons by hand)');
  labCmd
    .command('up')
    .argument('<lab>', `one of: ${labNames.join(', ')}`, labName)
    .description('build the local lab: packages, daemons, images, networks (idempotent; prints its time)')
    .action(async (name: string) => labUp(name, say));
  labCmd
    .command('down')
    .argument('<lab>', `one of: ${labNames.join(', ')}`, labName)
    .description('remove owned leftovers, then stop only the daemons the lab started')
    .option('--purge', 'also remove the pools, images, networks and built artefacts (the next lab up is cold)')
    .action(async (name: string, opts: { purge?: boolean }) => (await lab(name)).down(say, opts));
  labCmd
    .command('status')
    .description('print what `lab up` measured per lab (accelerator, missing prerequisites, bring-up time)')
    .action(async () => {
      const all: Record<string, unknown> = {};
      for (const name of labNames) all[name] = (await (await lab(name)).status()) ?? 'not brought up';
      process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
    });
}
