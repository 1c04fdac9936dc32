/** `vmconform report`: bundles in, one report out (HTML, Markdown, JUnit). */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { summaryLines, writeReport } from '../../reports/write.js';
import { say } from '../options.js';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description(
      'write one self-contained HTML report (plus Markdown and JUnit XML) from evidence bundles, one per platform; prints where they are',
    )
    .argument(
      '<bundle...>',
      'results.json files, platform folders (out/<run>/<platform>) or run folders (out/<run>: every platform in it)',
    )
    .option(
      '-o, --out <dir>',
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
    .action(
      async (
        bundles: string[],
        opts: {
          out?: string;
          compare?: string[];
          bench?: string;
          assessments?: string;
          scoring?: string;
          waivers?: string;
        },
      ) => {
        const r = await writeReport({
          bundles,
          out: opts.out,
          compare: opts.compare,
          bench: opts.bench,
          ...(opts.assessments ? { assessments: resolve(opts.assessments) } : {}),
          ...(opts.scoring ? { scoring: resolve(opts.scoring) } : {}),
          ...(opts.waivers ? { waivers: resolve(opts.waivers) } : {}),
        });
        for (const line of summaryLines(r)) say(line);
        // Written and marked, but a bundle that fails verification fails the command too.
        if (r.model.columns.some((c) => c.integrity?.state === 'failed')) process.exitCode = 1;
      },
    );
}
