/** `vmconform evaluate`: the main job, labs up, suites per platform, bundles and one report. */
import { existsSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import { readBundle } from '../../evidence/bundle.js';
import { ConfigInvalid } from '../../evidence/errors.js';
import { redact, redactText } from '../../evidence/redact.js';
import { tallyText } from '../../evidence/tally.js';
import { type Verdict, verdicts } from '../../evidence/verdict.js';
import { checkGate, type FailOn } from '../../reports/fail-on.js';
import { bundlePaths, summaryJson, summaryLines, type WrittenReport, writeReport } from '../../reports/write.js';
import { type EvaluateOptions, evaluate } from '../../run/evaluate.js';
import { listPlan, planLines } from '../../run/evaluate-list.js';
import { exitCodes } from '../../run/exit-codes.js';
import { exitCodeHelp } from '../exit-codes.js';
import { failOnHelp, failOnLevel, platformList, say, sayOut } from '../options.js';

/** The report's summary without its integrity: the report is checked before the run is sealed, so it reads 'unsealed'. */
function summary(r: WrittenReport) {
  const s = summaryJson(r);
  return { ...s, platforms: s.platforms.map(({ integrity: _, ...p }) => p) };
}

export function registerEvaluate(program: Command): void {
  program
    .command('evaluate')
    .description(
      'bring up the local lab (unless --no-lab), run the conformance suites per platform, write an evidence bundle per platform and one report (HTML, Markdown, JUnit) under <output folder>/<run>/',
    )
    .option(
      '-c, --config <file>',
      'lab config (YAML); secrets are referenced by env var or file, never given here',
      'lab/lab.local.yaml',
    )
    .option(
      '-p, --platform <list>',
      'comma-separated platforms to evaluate (default: every platform in the config)',
      platformList,
    )
    .option('-o, --output-dir <dir>', 'output folder (default: outputDir from the config)')
    .option(
      '-r, --requirement <ids>',
      "only these requirements, comma-separated: exact ids (LC-01), prefixes (LC-, DSK) or regular expressions over ids only ('^LC-0[12]$', 'DSK|NIC'); exactly the tests tagged with them run",
    )
    .option(
      '--sign-key <file>',
      'SSH private key file that signs the run manifest (ssh-keygen -Y sign, namespace vmconform)',
    )
    .option('--skip <ids>', 'leave these requirements out (same syntax as --requirement)')
    .option('--no-lab', 'do not bring the local lab up first (use for a remote lab host)')
    .option(
      '--serial',
      'one platform after another, each in one pass (by default the platforms run at once, and the requirements that need a quiet machine, such as LC-07, LC-08 and NIC-06, run after, one platform at a time)',
    )
    .option(
      '--list',
      'run nothing: per platform, print the requirements that would run, the ones skipped and why, and the ones its capabilities already say will end prereq-missing (connects, never brings a lab up)',
    )
    .option('--fail-on <level>', failOnHelp, failOnLevel, 'fail' as FailOn)
    .addHelpText('after', `\n${exitCodeHelp}`)
    .option('--json', 'print the summary (or with --list the plan) as JSON on stdout; progress stays on stderr')
    .option(
      '--waivers <file>',
      'waiver file (YAML: platform, requirement, reason, owner, expires): a waived non-pass shows as waived, never as a pass, and does not fail the run; an expired waiver no longer applies and is named',
    )
    .option(
      '--retries <n>',
      'run a failed requirement again up to n times; every attempt is recorded, and one that passed only on a retry is flaky, never a pass',
      retryCount,
    )
    .option(
      '--rerun <run>',
      "an earlier run folder or bundle: run again, on its platforms and with the same config, only what did not pass there; the new bundle keeps that run's other verdicts and says which run each came from",
    )
    .option(
      '--rerun-verdicts <list>',
      `with --rerun: the verdicts to run again, comma-separated (default: every verdict but pass; one of ${verdicts.join(', ')})`,
      verdictList,
    )
    .action(
      async (
        cli: Omit<EvaluateOptions, 'out'> & {
          outputDir?: string;
          list?: boolean;
          json?: boolean;
          failOn: FailOn;
          rerun?: string;
        },
      ) => {
        const opts: EvaluateOptions = { ...cli, ...(cli.outputDir ? { out: cli.outputDir } : {}) };
        if (opts.rerunVerdicts && !cli.rerun) throw new ConfigInvalid('--rerun-verdicts: only with --rerun');
        if (cli.rerun)
          opts.rerunFrom = await Promise.all(
            (await bundlePaths(cli.rerun)).map(async (source) => ({ source, bundle: await readBundle(source) })),
          );
        if (cli.list) {
          const plans = await listPlan(opts, say);
          if (cli.json) process.stdout.write(`${JSON.stringify(redact(plans), null, 2)}\n`);
          else for (const p of plans) process.stdout.write(redactText(`${planLines(p).join('\n')}\n`));
          return;
        }
        // Progress on stderr; stdout holds the summary (data): per platform its verdicts and gate, the report.
        let report: WrittenReport | undefined;
        let reportFailed = false;
        let code = await evaluate(opts, say, async (e) => {
          // A platform run that failed before its suites wrote anything has no bundle to show.
          const written = e.bundles.filter((b) => existsSync(b));
          if (written.length === 0) return;
          await writeReport({
            bundles: written,
            out: e.outDir,
            ...(opts.waivers ? { waivers: opts.waivers } : {}),
          }).then(
            (r) => {
              report = r;
              // The bundle records the selection; the gates still score the whole catalogue.
              if (e.leftOut > 0)
                say(
                  `${e.leftOut} requirements were not selected (-r/--skip): the report marks them not selected, inconclusive for its gates`,
                );
            },
            (err: unknown) => {
              say(`report not written: ${err instanceof Error ? err.message : String(err)}`);
              reportFailed = true;
            },
          );
        });
        // A report that could not be written is the harness's error; an interrupt or a harness error says more.
        if (reportFailed && code < exitCodes.harness) code = exitCodes.harness;
        const gate = report ? checkGate(report.model.columns, cli.failOn) : { failed: [], harness: [] };
        // The run decided failures from its tests; --fail-on adds the gates it asks for.
        if (code === exitCodes.ok && gate.failed.length > 0) code = exitCodes.failed;
        if (report) {
          const r: WrittenReport = report;
          if (cli.json)
            process.stdout.write(
              `${JSON.stringify(redact({ ...summary(r), failOn: cli.failOn, failed: gate.failed, exitCode: code }), null, 2)}\n`,
            );
          else {
            for (const c of r.model.columns)
              sayOut(`${c.platform}: ${tallyText(c.bundle.requirements)}; bundle: ${c.source}`);
            for (const line of summaryLines(r)) sayOut(line);
          }
          if (code === exitCodes.failed) for (const why of gate.failed) say(`--fail-on ${cli.failOn}: ${why}`);
        }
        process.exitCode = code;
      },
    );
}

function verdictList(value: string): Verdict[] {
  const list = value.split(',').map((v) => v.trim());
  for (const v of list)
    if (!(verdicts as readonly string[]).includes(v))
      throw new InvalidArgumentError(`'${v}' is not a verdict (one of ${verdicts.join(', ')})`);
  return list as Verdict[];
}

function retryCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 10) throw new InvalidArgumentError('expected a whole number from 0 to 10');
  return n;
}
