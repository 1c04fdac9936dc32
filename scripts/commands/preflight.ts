/** `vmconform preflight`: what a run against these platforms would lack, before the run. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { newRunId } from '../../adapters/contract/index.js';
import { configuredPlatforms, loadLabConfig } from '../../adapters/lab-config.js';
import type { Platform } from '../../adapters/platforms.js';
import { redact, redactText } from '../../evidence/redact.js';
import { notVerifiable, preflight } from '../../run/preflight.js';
import { platformList, say } from '../options.js';

export function registerPreflight(program: Command): void {
  program
    .command('preflight')
    .description(
      'before a run: per platform, connect with the configured credential and list what the run would lack (privileges, services, versions, storages, lab prerequisites) and which requirements would end without a verdict; exit 0 when every requirement can get a verdict, 1 otherwise',
    )
    .option('-c, --config <file>', 'lab config (YAML)', 'lab/lab.local.yaml')
    .option('-p, --platform <list>', 'comma-separated platforms (default: every platform in the config)', platformList)
    .option('--json', 'print the reports as JSON on stdout')
    .action(async (opts: { config: string; platform?: Platform[]; json?: boolean }) => {
      const { config } = await loadLabConfig(resolve(opts.config));
      const runId = newRunId();
      const reports = [];
      for (const p of opts.platform ?? configuredPlatforms(config))
        reports.push(await preflight(config, p, runId, say));
      if (opts.json) {
        const out = reports.map((r) => ({ ...r, notVerifiable: notVerifiable(r) }));
        process.stdout.write(`${JSON.stringify(redact(out), null, 2)}\n`);
      } else
        for (const r of reports) {
          const missing = notVerifiable(r);
          const lines = [`${r.platform} (${r.endpoint || 'not reached'})`];
          for (const c of r.checks)
            lines.push(
              `  ${c.ok ? 'ok  ' : 'MISS'} ${c.name}: ${c.detail}${!c.ok && c.affects.length ? ` [${c.affects.join(' ')}]` : ''}`,
            );
          lines.push(
            missing.length === 0
              ? '  every requirement can get a verdict'
              : `  without a verdict: ${missing.length} requirements (${missing.join(' ')})`,
          );
          process.stdout.write(redactText(`${lines.join('\n')}\n`));
        }
      process.exitCode = reports.some((r) => notVerifiable(r).length > 0) ? 1 : 0;
    });
}
