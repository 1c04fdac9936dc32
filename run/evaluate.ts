/**
 * The main job: bring up the labs, run the conformance suites per platform, fold in each leak check.
 * Bundles are known before each platform runs, so the caller's report covers whatever ran, however
 * the run ends (failure, interrupt).
 */
import { resolve } from 'node:path';
import { newRunId, type Say } from '../adapters/contract/index.js';
import { configuredPlatforms, loadLabConfig } from '../adapters/lab-config.js';
import { ConfigInvalid } from '../evidence/errors.js';
import { checkSignKey, sealRun } from '../evidence/manifest.js';
import { tallyText } from '../evidence/tally.js';
import { isLab } from '../lab/labs.js';
import { knownFindingsEnv } from '../requirements/known-findings.js';
import { evaluationExitCode } from './exit-codes.js';
import { labsUp, labUp } from './labs-up.js';
import { runPlatform } from './platform-run.js';
import { registerRun } from './runs.js';
import { namePattern, select } from './selection.js';

export interface EvaluateOptions {
  config: string;
  platform?: string[];
  out?: string;
  /** IDs, prefixes or regexes over IDs, comma-separated (run/selection.ts). */
  requirement?: string;
  /** Same syntax: requirements excluded from the run. */
  skip?: string;
  lab: boolean;
  /** SSH private key file that signs the run's manifest. */
  signKey?: string;
}

export interface Evaluation {
  runId: string;
  /** Where the run's report goes. */
  outDir: string;
  /** Every platform's bundle path that a run started, written or not. */
  bundles: string[];
  exitCode: number;
  /** Requirements -r/--skip left out: the report marks them not selected (inconclusive for its gates). */
  leftOut: number;
}

/** What an evaluation (or its --list) works from: the config, the platforms and the selection, all checked. */
export async function prepare(opts: EvaluateOptions) {
  const configPath = resolve(opts.config);
  const { config } = await loadLabConfig(configPath);
  const chosen = opts.platform ?? configuredPlatforms(config);
  const selection = select(opts);
  for (const p of chosen)
    if (!config.platforms[p as keyof typeof config.platforms])
      throw new ConfigInvalid(`platform '${p}' is not configured in ${opts.config} (platforms.${p} is missing)`);
  return { config, configPath, chosen, selection };
}

/** Runs the evaluation; `finish` is called with what ran however it ends (the report is written there). */
export async function evaluate(
  opts: EvaluateOptions,
  say: Say,
  finish: (e: Evaluation) => Promise<void>,
): Promise<number> {
  // An evaluation reports every finding as it is: the test pass's known-findings list never applies here.
  delete process.env[knownFindingsEnv];
  const { config, configPath, chosen, selection } = await prepare(opts);
  if (opts.signKey) await checkSignKey(opts.signKey);
  const runId = newRunId();
  const evaluation: Evaluation = {
    runId,
    outDir: resolve(opts.out ?? config.outputDir, runId),
    bundles: [],
    exitCode: 0,
    leftOut: selection.skipped.length,
  };
  const unregister = await registerRun(runId, chosen);
  let failed = false;
  let harnessError = false;
  if (selection.narrowed)
    say(
      `selected ${selection.run.length} requirements: ${selection.run.join(' ')}${selection.skipped.some((s) => s.why === 'skip') ? `; skipped: ${selection.skipped.flatMap((s) => (s.why === 'skip' ? [s.id] : [])).join(' ')}` : ''}`,
    );
  try {
    if (opts.lab) await labsUp(config, chosen, say);
    for (const p of chosen) {
      const out = resolve(evaluation.outDir, p);
      say(`evaluating ${p}, run ${runId} -> ${out}`);
      evaluation.bundles.push(resolve(out, 'results.json'));
      const { counts, leaks, bundle, bundlePath } = await runPlatform({
        platform: p,
        runId,
        config,
        configPath,
        out,
        // Narrowed: only the suite files holding selected tests are loaded (vitest takes them as filters).
        vitestArgs: ['--project', 'conformance', ...(selection.narrowed ? selection.files : [])],
        ...(selection.narrowed ? { namePattern: namePattern(selection.run), selected: selection.run } : {}),
        say,
        ...(opts.lab && isLab(p) ? { recover: () => labUp(p, say) } : {}),
      });
      // Requirement verdicts, not vitest's test states: a simulated or container-only pass is no pass.
      say(
        `${p}: ${tallyText(bundle.requirements)}; ${counts.failed} of ${counts.total} tests failed; bundle: ${bundlePath}`,
      );
      failed ||= counts.failed > 0 || leaks.after.length > 0;
      if (counts.interrupted) {
        evaluation.exitCode = evaluationExitCode({ signal: counts.signal ?? 'SIGINT', harnessError, failed });
        return evaluation.exitCode;
      }
      // What was selected is what runs: a selected requirement no test ran is the harness's error, not a verdict.
      const ran = new Set(bundle.tests.flatMap((t) => t.requirements));
      const missed = selection.run.filter((id) => !ran.has(id));
      if (counts.total === 0) say(`${p}: no test ran: that is a harness error, not a success`);
      else if (missed.length > 0) say(`${p}: selected but no test ran for: ${missed.join(' ')}`);
      // An `error` verdict is the harness's (or the lab's) failure, never the platform's: it pages someone else.
      const errored = Object.entries(bundle.requirements).flatMap(([id, v]) => (v.verdict === 'error' ? [id] : []));
      if (errored.length > 0) say(`${p}: harness error, not a platform verdict, for: ${errored.join(' ')}`);
      harnessError ||= counts.total === 0 || missed.length > 0 || errored.length > 0;
    }
    evaluation.exitCode = evaluationExitCode({ harnessError, failed });
    return evaluation.exitCode;
  } finally {
    await unregister();
    await finish(evaluation);
    // Tamper evidence: hashes of everything the run and its report wrote (signed with --sign-key).
    await sealRun(evaluation.outDir, opts.signKey, say);
  }
}
