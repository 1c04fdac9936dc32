/** `vmconform report`: bundles in, one report out (HTML, Markdown, JUnit); exits as --fail-on asks. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { redact } from '../../evidence/redact.js';
import { checkGate, type FailOn } from '../../reports/fail-on.js';
import { summaryJson, summaryLines, writeReport } from '../../reports/write.js';
import { exitCodeHelp, gateExitCode } from '../exit-codes.js';
import { failOnHelp, failOnLevel, say, sayOut } from '../options.js';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description(
      'write one self-contained HTML report (plus Markdown and JUnit XML) from evidence bundles, one per platform; prints where they are and exits as --fail-on asks',
    )
    .argument(
      '<bundle...>',
      'results.json files, platform folders (out/<run>/<platform>) or run folders (out/<run>: every platform in it)',
    )
    .option(
      '-o, --output-dir <dir>',
      'folder for report.html, report.md, report.junit.xml (default: the run folder of the first bundle)',
    )
    .option(
      '--compare <bundle>',
      'an older bundle (or run folder) of the same platform(s): list what regressed or improved per requirement; repeatable',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--bench <file>', 'a bench.json from npm run bench (vmconform.bench/v2), shown as a benchmark section')
    .option('--assessments <dir>', 'folder of manual assessment files <platform>.yaml (default: reports/assessments)')
    .option('--scoring <file>', 'scoring file: weights and threshold (default: reports/scoring.yaml)')
    .option(
      '--waivers <file>',
      'waiver file (YAML: platform, requirement, reason, owner, expires): a waived non-pass shows as waived, never as a pass, counted apart; an expired waiver no longer applies and is named',
    )
    .option('--fail-on <level>', failOnHelp, failOnLevel, 'fail' as FailOn)
    .addHelpText('after', `\n${exitCodeHelp}`)
    .option('--json', 'print the summary (gates, verdict counts, report files) as JSON on stdout')
    .action(
      async (
        bundles: string[],
        opts: {
          outputDir?: string;
          compare?: string[];
          bench?: string;
          assessments?: string;
          scoring?: string;
          waivers?: string;
          failOn: FailOn;
          json?: boolean;
        },
      ) => {
        const r = await writeReport({
          bundles,
          out: opts.outputDir,
          compare: opts.compare,
          bench: opts.bench,
          ...(opts.assessments ? { assessments: resolve(opts.assessments) } : {}),
          ...(opts.scoring ? { scoring: resolve(opts.scoring) } : {}),
          ...(opts.waivers ? { waivers: resolve(opts.waivers) } : {}),
        });
        const gate = checkGate(r.model.columns, opts.failOn);
        if (opts.json)
          process.stdout.write(
            `${JSON.stringify(redact({ ...summaryJson(r), failOn: opts.failOn, ...gate }), null, 2)}\n`,
          );
        else for (const line of summaryLines(r)) sayOut(line);
        for (const why of [...gate.harness, ...gate.failed]) say(`--fail-on ${opts.failOn}: ${why}`);
        process.exitCode = gateExitCode(gate);
      },
    );
}
