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
import { quietIds } from '../requirements/registry.js';
import { evaluationExitCode } from './exit-codes.js';
import { labsUp, labUp } from './labs-up.js';
import { runPlatform } from './platform-run.js';
import { lastTimings } from './progress.js';
import { registerRun } from './runs.js';
import { type QuietGate, schedule } from './schedule.js';
import { namePattern, quietSplit, select } from './selection.js';
import { repoRoot } from './vitest-run.js';

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
  /** One platform after another, each in one pass (by default the platforms run at once). */
  serial?: boolean;
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
  // Platforms at once unless asked otherwise; one platform has nothing to share the machine with.
  const mode = opts.serial || chosen.length < 2 ? 'serial' : 'concurrent';
  let interrupted: 'SIGINT' | 'SIGTERM' | undefined;
  try {
    if (opts.lab) await labsUp(config, chosen, say);
    if (mode === 'concurrent')
      say(
        `evaluating ${chosen.join(', ')} at once; ${quietIds.join(' ')} (where selected) run after, in a quiet window per platform (--serial: one platform after another)`,
      );
    const split = mode === 'concurrent' ? quietSplit(selection) : undefined;
    const narrowedArgs = selection.narrowed ? selection.files : [];
    const one = async (p: string, gate: QuietGate | undefined) => {
      const out = resolve(evaluation.outDir, p);
      // Runs at once: each line says its platform.
      const sayP = mode === 'serial' ? say : (m: string) => say(m.startsWith(p) ? m : `${p}: ${m}`);
      evaluation.bundles.push(resolve(out, 'results.json'));
      sayP(`evaluating ${p}, run ${runId} -> ${out}`);
      const estimate = await lastTimings(
        resolve(opts.out ?? config.outputDir),
        resolve(repoRoot, 'out/bench'),
        p,
        runId,
      );
      sayP(
        `${p}: time left ${estimate ? `estimated from the ${estimate.source}` : 'not estimated: no earlier run or bench'}`,
      );
      const log = mode === 'concurrent' ? resolve(out, 'vitest.log') : undefined;
      if (log) sayP(`${p}: vitest's own output -> ${log}`);
      const passes =
        split && gate
          ? {
              ...(split.main
                ? { vitestArgs: ['--project', 'conformance', ...split.main.files], namePattern: split.main.namePattern }
                : {}),
              quiet: {
                gate,
                ids: split.quiet.ids,
                vitestArgs: ['--project', 'conformance', ...split.quiet.files],
                namePattern: split.quiet.namePattern,
              },
            }
          : {
              // Narrowed: only the suite files holding selected tests are loaded (vitest takes them as filters).
              vitestArgs: ['--project', 'conformance', ...narrowedArgs],
              ...(selection.narrowed ? { namePattern: namePattern(selection.run) } : {}),
            };
      const { counts, leaks, bundle, bundlePath } = await runPlatform({
        platform: p,
        runId,
        config,
        configPath,
        out,
        ...passes,
        ...(selection.narrowed ? { selected: selection.run } : {}),
        ...(log ? { log } : {}),
        progress: { platform: p, ids: selection.run, ...(estimate ? { estimate } : {}) },
        say: sayP,
        ...(mode === 'concurrent' ? { stopping: () => interrupted } : {}),
        ...(opts.lab && isLab(p) ? { recover: () => labUp(p, sayP) } : {}),
      });
      // Requirement verdicts, not vitest's test states: a simulated or container-only pass is no pass.
      sayP(
        `${p}: ${tallyText(bundle.requirements)}; ${counts.failed} of ${counts.total} tests failed; bundle: ${bundlePath}`,
      );
      failed ||= counts.failed > 0 || leaks.after.length > 0;
      if (counts.interrupted) {
        interrupted ??= counts.signal ?? 'SIGINT';
        return;
      }
      // What was selected is what runs: a selected requirement no test ran is the harness's error, not a verdict.
      const ran = new Set(bundle.tests.flatMap((t) => t.requirements));
      const missed = selection.run.filter((id) => !ran.has(id));
      if (counts.total === 0) sayP(`${p}: no test ran: that is a harness error, not a success`);
      else if (missed.length > 0) sayP(`${p}: selected but no test ran for: ${missed.join(' ')}`);
      // An `error` verdict is the harness's (or the lab's) failure, never the platform's: it pages someone else.
      const errored = Object.entries(bundle.requirements).flatMap(([id, v]) => (v.verdict === 'error' ? [id] : []));
      if (errored.length > 0) sayP(`${p}: harness error, not a platform verdict, for: ${errored.join(' ')}`);
      harnessError ||= counts.total === 0 || missed.length > 0 || errored.length > 0;
    };
    // Platforms at once: an interrupt stops the suites and quiet windows not yet started, and the cleanups
    // still run (serially, as before, an interrupt outside the suites ends the process).
    const stop = (sig: NodeJS.Signals) => {
      interrupted ??= sig === 'SIGTERM' ? 'SIGTERM' : 'SIGINT';
    };
    if (mode === 'concurrent') {
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    }
    try {
      await schedule(chosen, mode, one, () => interrupted !== undefined);
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    if (interrupted) {
      evaluation.exitCode = evaluationExitCode({ signal: interrupted, harnessError, failed });
      return evaluation.exitCode;
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
