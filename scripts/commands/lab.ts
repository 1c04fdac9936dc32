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
    .argument('[lab]', `one of: ${labNames.join(', ')} (default: every lab)`, labName)
    .description('print what `lab up` measured per lab (accelerator, missing prerequisites, bring-up time)')
    .option('--json', 'print the full recorded state as JSON')
    .action(async (name: string | undefined, opts: { json?: boolean }) => {
      const all: Record<string, unknown> = {};
      for (const n of name ? [name] : labNames) all[n] = (await (await lab(n)).status()) ?? 'not brought up';
      if (opts.json) process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
      else for (const [n, st] of Object.entries(all)) process.stdout.write(`${statusLine(n, st)}\n`);
    });
}

/** One line per lab from the fields most labs record; --json has everything. */
export function statusLine(name: string, status: unknown): string {
  if (status === null || typeof status !== 'object') return `${name}: not brought up`;
  const s = status as {
    accel?: string;
    prereqMissing?: Record<string, string>;
    bringUp?: { ms?: number; at?: string; cold?: boolean };
    /** A lab of many daemons (OpenStack) lists each: name, PID, running, RSS with its children. */
    services?: { name: string; pid: number; running: boolean; rssKiB?: number }[];
    totalRssKiB?: number;
  };
  const parts = [
    ...(s.bringUp?.at
      ? [
          `brought up ${s.bringUp.at}${s.bringUp.ms !== undefined ? ` in ${(s.bringUp.ms / 1000).toFixed(1)} s${s.bringUp.cold ? ' (cold)' : ''}` : ''}`,
        ]
      : ['brought up']),
    ...(s.accel ? [`accel ${s.accel}`] : []),
    ...(s.prereqMissing && Object.keys(s.prereqMissing).length > 0
      ? [`prerequisites missing: ${Object.keys(s.prereqMissing).join(', ')}`]
      : []),
  ];
  const services = (s.services ?? []).map(
    (x) =>
      `\n  ${x.name.padEnd(26)} ${String(x.pid).padStart(7)} ${x.running ? `running ${String(Math.round((x.rssKiB ?? 0) / 1024)).padStart(5)} MiB` : 'stopped'}`,
  );
  if (s.services)
    parts.push(
      `${s.services.filter((x) => x.running).length}/${s.services.length} services running, ${Math.round((s.totalRssKiB ?? 0) / 1024)} MiB RSS with helpers`,
    );
  return `${name}: ${parts.join('; ')}${services.join('')}`;
}
