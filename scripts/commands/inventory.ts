/** `vmconform inventory export|reconcile`: the platform inventory against a system of record. */
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { newRunId } from '../../adapters/contract/index.js';
import { configuredPlatforms, loadLabConfig } from '../../adapters/lab-config.js';
import { connectTarget, type Platform } from '../../adapters/platforms.js';
import { ConfigInvalid } from '../../evidence/errors.js';
import { Transcript } from '../../evidence/transcript.js';
import { describeReport, exportInventory, parseInventory, reconcile } from '../../features/inventory.js';
import { platformList, say } from '../options.js';

export function registerInventory(program: Command): void {
  async function inventoryTarget(opts: { config: string; platform?: Platform[] }) {
    const { config } = await loadLabConfig(resolve(opts.config));
    const chosen = opts.platform ?? configuredPlatforms(config);
    if (chosen.length !== 1)
      throw new ConfigInvalid(
        `--platform: expected exactly one platform for inventory, got ${chosen.join(',') || 'none'}`,
      );
    const p = chosen[0] as Platform;
    if (!config.platforms[p as keyof typeof config.platforms])
      throw new ConfigInvalid(`platform '${p}' is not configured in ${opts.config} (platforms.${p} is missing)`);
    return connectTarget(p, config.platforms, { runId: newRunId(), transcript: new Transcript() });
  }

  const inventoryCmd = program
    .command('inventory')
    .description(
      'export the platform inventory (hosts, VMs, volumes, NICs with durable ids and placement) as JSON, or reconcile it against a system-of-record snapshot',
    );
  inventoryCmd
    .command('export')
    .description('write the inventory as vmconform.inventory/v1 JSON (see features/inventory.ts for the shape)')
    .option('-c, --config <file>', 'lab config (YAML)', 'lab/lab.local.yaml')
    .option('-p, --platform <name>', 'the platform to export (default: the only one in the config)', platformList)
    .option('--output-file <file>', 'write to this file instead of stdout')
    .option('--owner <run id>', "only this vmconform run's VMs and volumes (hosts are always listed)")
    .action(async (opts: { config: string; platform?: Platform[]; outputFile?: string; owner?: string }) => {
      const target = await inventoryTarget(opts);
      const inv = await exportInventory(target.driver, opts.owner ? { owner: opts.owner } : {});
      const text = `${JSON.stringify(inv, null, 2)}\n`;
      if (opts.outputFile) {
        await writeFile(opts.outputFile, text);
        say(
          `${inv.hosts.length} hosts, ${inv.vms.length} VMs, ${inv.volumes.length} volumes, ${inv.nics.length} NICs -> ${opts.outputFile}`,
        );
      } else process.stdout.write(text);
    });
  inventoryCmd
    .command('reconcile')
    .description(
      'compare the platform now with a system-of-record export: prints missing, unexpected and drifted objects; exits 1 on any',
    )
    .requiredOption(
      '--against <file>',
      'system-of-record snapshot (vmconform.inventory/v1 JSON, e.g. from inventory export)',
    )
    .option('-c, --config <file>', 'lab config (YAML)', 'lab/lab.local.yaml')
    .option('-p, --platform <name>', 'the platform to read (default: the only one in the config)', platformList)
    .option('--json', 'print the report as JSON')
    .action(async (opts: { against: string; config: string; platform?: Platform[]; json?: boolean }) => {
      const text = await readFile(opts.against, 'utf8').catch((e: NodeJS.ErrnoException) => {
        throw new ConfigInvalid(`--against ${opts.against}: cannot read (${e.code ?? e.message})`);
      });
      const record = parseInventory(text, opts.against);
      const target = await inventoryTarget(opts);
      // Same scope as the record: a run-scoped snapshot is compared with that run's objects only.
      const report = reconcile(record, await exportInventory(target.driver, record.scope));
      if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else for (const line of describeReport(report)) process.stdout.write(`${line}\n`);
      process.exitCode = report.clean ? 0 : 1;
    });
}
