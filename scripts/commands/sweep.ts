/** `vmconform sweep`: remove what dead runs left behind, owned objects only. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { type Driver, newRunId } from '../../adapters/contract/index.js';
import { configuredPlatforms, loadLabConfig } from '../../adapters/lab-config.js';
import { connectTarget, type Platform } from '../../adapters/platforms.js';
import { redact } from '../../evidence/redact.js';
import { Transcript } from '../../evidence/transcript.js';
import { decideSweep, liveRuns, removeOwned, type SweepDecision } from '../../run/runs.js';
import { duration, platformList, say, sayOut } from '../options.js';

export function registerSweep(program: Command): void {
  program
    .command('sweep')
    .description(
      'remove objects left by runs that are no longer alive (VMs first, then backups, volumes and images), with a summary',
    )
    .option('-c, --config <file>', 'lab config (YAML)', 'lab/lab.local.yaml')
    .option(
      '-p, --platform <list>',
      'comma-separated platforms to sweep (default: every platform in the config)',
      platformList,
    )
    .option(
      '--older-than <duration>',
      'only runs that started longer ago than this (e.g. 30m, 2h, 1d); runs alive on this machine are never swept',
      duration,
      2 * 3600_000,
    )
    .option('--run <id>', 'only this run (ignores --older-than, still never a live run)')
    .option('--dry-run', 'list what would be removed, remove nothing')
    .option('--json', 'print the decisions (and what was removed) as JSON on stdout, the lines on stderr')
    .action(
      async (opts: {
        config: string;
        platform?: Platform[];
        olderThan: number;
        run?: string;
        dryRun?: boolean;
        json?: boolean;
      }) => {
        // The decision lines are the answer; with --json the JSON is, and the lines are progress.
        const line = opts.json ? say : sayOut;
        const report: { where: string; decisions: SweepDecision[]; removed: number; failed: number }[] = [];
        const { config } = await loadLabConfig(resolve(opts.config));
        const live = await liveRuns();
        for (const p of opts.platform ?? configuredPlatforms(config)) {
          const target = await connectTarget(p, config.platforms, { runId: newRunId(), transcript: new Transcript() });
          // Every site's own API once: per-host drivers (libvirt) or one shared driver.
          const apis = new Map<Driver, string>([[target.driver, p]]);
          for (const site of target.sites ?? []) if (!apis.has(site.driver)) apis.set(site.driver, `${p} ${site.name}`);
          for (const [driver, where] of apis) {
            const decisions = decideSweep(await driver.owned(), live, new Date(), opts.olderThan, opts.run);
            for (const d of decisions)
              line(
                `${d.action === 'remove' ? (opts.dryRun ? 'would remove' : 'removing') : 'keeping'} ${d.object.kind} ${d.object.name} (run ${d.object.runId}): ${d.why}`,
              );
            const doomed = decisions.filter((d) => d.action === 'remove').map((d) => d.object);
            const failed = opts.dryRun ? [] : await removeOwned(driver, doomed, say);
            report.push({ where, decisions, removed: doomed.length - failed.length, failed: failed.length });
            line(
              `${where}: ${doomed.length} to remove${opts.dryRun ? ' (dry run: nothing removed)' : `, ${doomed.length - failed.length} removed, ${failed.length} failed`}, ${decisions.length - doomed.length} kept`,
            );
            if (failed.length > 0) process.exitCode = 1;
            await driver.close();
          }
        }
        if (opts.json)
          process.stdout.write(`${JSON.stringify(redact({ dryRun: !!opts.dryRun, apis: report }), null, 2)}\n`);
      },
    );
}
