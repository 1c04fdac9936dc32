/**
 * The main job: bring up the labs, run the conformance suites per platform, fold in each leak check.
 * Bundles are known before each platform runs, so the caller's report covers whatever ran, however
 * the run ends (failure, interrupt).
 */
import { resolve } from 'node:path';
import { newRunId, type Say } from '../adapters/contract/index.js';
import { configuredPlatforms, loadLabConfig } from '../adapters/lab-config.js';
import type { Bundle } from '../evidence/bundle.js';
import { ConfigInvalid } from '../evidence/errors.js';
import { checkSignKey, sealRun } from '../evidence/manifest.js';
import { defaultRerunVerdicts, mergeRerun, rerunIds } from '../evidence/rerun.js';
import { writeBundle } from '../evidence/results.js';
import { tallyText } from '../evidence/tally.js';
import type { Verdict } from '../evidence/verdict.js';
import { isLab } from '../lab/labs.js';
import { knownFindingsEnv } from '../requirements/known-findings.js';
import { quietIds, requirements } from '../requirements/registry.js';
import { loadWaivers, waiverFor, waiverText } from '../requirements/waivers.js';
import { evaluationExitCode } from './exit-codes.js';
import { labsUp, labUp } from './labs-up.js';
import { runPlatform } from './platform-run.js';
import { lastTimings } from './progress.js';
import { registerRun } from './runs.js';
import { type QuietGate, schedule } from './schedule.js';
import { namePattern, quietSplit, resolveIds, type Selection, select } from './selection.js';
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
  /** --rerun: the earlier run's bundles (one per platform; the CLI reads them), whose non-passes run again. */
  rerunFrom?: EarlierRun[];
  /** --waivers: a waiver file; waived non-passes are counted apart and do not fail the run. */
  waivers?: string;
  /** --retries: vitest runs a failed test again up to this many times; a pass on retry is flaky. */
  retries?: number;
  /** --rerun-verdicts: the verdicts a rerun runs again (default: every verdict but pass). */
  rerunVerdicts?: Verdict[];
  /** One platform after another, each in one pass (by default the platforms run at once). */
  serial?: boolean;
}

export interface EarlierRun {
  source: string;
  bundle: Bundle;
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

/**
 * What an evaluation (or its --list) works from: the config, the platforms and each one's selection, all
 * checked. A rerun selects per platform what its earlier bundle did not pass, on the platforms it ran.
 */
export async function prepare(opts: EvaluateOptions) {
  const configPath = resolve(opts.config);
  const { config, hash } = await loadLabConfig(configPath);
  const earlier = new Map((opts.rerunFrom ?? []).map((e) => [e.bundle.platform, e]));
  const chosen = opts.platform ?? (opts.rerunFrom ? [...earlier.keys()] : configuredPlatforms(config));
  for (const p of chosen)
    if (!config.platforms[p as keyof typeof config.platforms])
      throw new ConfigInvalid(`platform '${p}' is not configured in ${opts.config} (platforms.${p} is missing)`);
  const selections = new Map<string, Selection>();
  /** Platforms a rerun has nothing to run again on. */
  const nothingToRerun: string[] = [];
  if (!opts.rerunFrom) {
    const selection = select(opts);
    for (const p of chosen) selections.set(p, selection);
    return { config, configPath, chosen, selections, earlier, nothingToRerun };
  }
  const wanted = opts.rerunVerdicts ?? defaultRerunVerdicts;
  const everything = select({}).run;
  const picked = opts.requirement ? new Set(resolveIds(opts.requirement, '--requirement')) : undefined;
  for (const p of chosen) {
    const e = earlier.get(p);
    if (!e)
      throw new ConfigInvalid(`--rerun: no ${p} bundle in what was given (it has ${[...earlier.keys()].join(', ')})`);
    // Same config: a rerun that tested another lab would merge verdicts about two different things.
    if (e.bundle.configHash && e.bundle.configHash !== hash)
      throw new ConfigInvalid(
        `--rerun: ${e.source} ran with another lab config than ${opts.config} (config hash ${e.bundle.configHash.slice(0, 12)}, now ${hash.slice(0, 12)}); rerun with the config of that run`,
      );
    const ids = rerunIds(e.bundle, wanted, everything).filter((id) => !picked || picked.has(id));
    if (ids.length === 0) nothingToRerun.push(p);
    else selections.set(p, select({ requirement: ids.join(','), skip: opts.skip }));
  }
  return {
    config,
    configPath,
    chosen: chosen.filter((p) => !nothingToRerun.includes(p)),
    selections,
    earlier,
    nothingToRerun,
  };
}

/** Runs the evaluation; `finish` is called with what ran however it ends (the report is written there). */
export async function evaluate(
  opts: EvaluateOptions,
  say: Say,
  finish: (e: Evaluation) => Promise<void>,
): Promise<number> {
  // An evaluation reports every finding as it is: the test pass's known-findings list never applies here.
  delete process.env[knownFindingsEnv];
  const { config, configPath, chosen, selections, earlier, nothingToRerun } = await prepare(opts);
  if (opts.signKey) await checkSignKey(opts.signKey);
  // Read before the run: a bad waiver file is bad input, found before a long run rather than after it.
  const waivers = opts.waivers ? await loadWaivers(opts.waivers) : [];
  for (const p of nothingToRerun)
    say(
      `${p}: nothing to rerun: no requirement of run ${earlier.get(p)?.bundle.runId} ended ${(opts.rerunVerdicts ?? defaultRerunVerdicts).join(', ')}`,
    );
  if (chosen.length === 0) return 0;
  const first = selections.get(chosen[0] as string) as Selection;
  const runId = newRunId();
  const evaluation: Evaluation = {
    runId,
    outDir: resolve(opts.out ?? config.outputDir, runId),
    bundles: [],
    exitCode: 0,
    // A rerun's bundle covers what its earlier run selected: that run's left-out requirements stay left out.
    leftOut: opts.rerunFrom
      ? Math.max(
          ...chosen.map((p) => {
            const sel = earlier.get(p)?.bundle.selected;
            return sel ? requirements.length - sel.length : 0;
          }),
        )
      : first.skipped.length,
  };
  const unregister = await registerRun(runId, chosen);
  let failed = false;
  let harnessError = false;
  const selectedLine = (selection: Selection) =>
    `selected ${selection.run.length} requirements: ${selection.run.join(' ')}${selection.skipped.some((s) => s.why === 'skip') ? `; skipped: ${selection.skipped.flatMap((s) => (s.why === 'skip' ? [s.id] : [])).join(' ')}` : ''}`;
  if (!opts.rerunFrom && first.narrowed) say(selectedLine(first));
  // Platforms at once unless asked otherwise; one platform has nothing to share the machine with.
  const mode = opts.serial || chosen.length < 2 ? 'serial' : 'concurrent';
  let interrupted: 'SIGINT' | 'SIGTERM' | undefined;
  try {
    if (opts.lab) await labsUp(config, chosen, say);
    if (mode === 'concurrent')
      say(
        `evaluating ${chosen.join(', ')} at once; ${quietIds.join(' ')} (where selected) run after, in a quiet window per platform (--serial: one platform after another)`,
      );
    // Every attempt is recorded in the test's evidence (evidence/attempts.ts).
    const conformance = ['--project', 'conformance', ...(opts.retries ? ['--retry', String(opts.retries)] : [])];
    const one = async (p: string, gate: QuietGate | undefined) => {
      const out = resolve(evaluation.outDir, p);
      const selection = selections.get(p) as Selection;
      const split = mode === 'concurrent' ? quietSplit(selection) : undefined;
      // Runs at once: each line says its platform.
      const sayP = mode === 'serial' ? say : (m: string) => say(m.startsWith(p) ? m : `${p}: ${m}`);
      const before = earlier.get(p);
      if (before) sayP(`${p}: rerun of run ${before.bundle.runId} (${before.source}): ${selectedLine(selection)}`);
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
                ? { vitestArgs: [...conformance, ...split.main.files], namePattern: split.main.namePattern }
                : {}),
              quiet: {
                gate,
                ids: split.quiet.ids,
                vitestArgs: [...conformance, ...split.quiet.files],
                namePattern: split.quiet.namePattern,
              },
            }
          : {
              // Narrowed: only the suite files holding selected tests are loaded (vitest takes them as filters).
              vitestArgs: [...conformance, ...(selection.narrowed ? selection.files : [])],
              ...(selection.narrowed ? { namePattern: namePattern(selection.run) } : {}),
            };
      const {
        counts,
        leaks,
        bundle: ran,
        bundlePath,
      } = await runPlatform({
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
      // A rerun's bundle keeps the earlier run's verdicts beside this run's, each naming its run.
      const bundle = before ? await writeBundle(bundlePath, mergeRerun(before.bundle, ran, before.source)) : ran;
      const today = new Date();
      const waived = new Set(
        Object.entries(bundle.requirements).flatMap(([id, v]) => {
          const w = waiverFor(waivers, p, [id], v, today);
          if (w?.expired) sayP(`${p}: ${id} ${v.verdict}: ${waiverText(w.waiver, today)}`);
          return w && !w.expired ? [id] : [];
        }),
      );
      // Requirement verdicts, not vitest's test states: a simulated or container-only pass is no pass.
      sayP(
        `${p}: ${tallyText(bundle.requirements, waived)}; ${counts.failed} of ${counts.total} tests failed; bundle: ${bundlePath}`,
      );
      // Accepted risk does not page anyone: a failed test every requirement of which is waived is no failure.
      const waivedFails = ran.tests.filter((t) => t.state === 'failed' && t.requirements.every((id) => waived.has(id)));
      failed ||= counts.failed - waivedFails.length > 0 || leaks.after.length > 0;
      if (counts.interrupted) {
        interrupted ??= counts.signal ?? 'SIGINT';
        return;
      }
      // What was selected is what runs: a selected requirement no test ran is the harness's error, not a verdict.
      const tested = new Set(ran.tests.flatMap((t) => t.requirements));
      const missed = selection.run.filter((id) => !tested.has(id));
      if (counts.total === 0) sayP(`${p}: no test ran: that is a harness error, not a success`);
      else if (missed.length > 0) sayP(`${p}: selected but no test ran for: ${missed.join(' ')}`);
      // An `error` verdict is the harness's (or the lab's) failure, never the platform's: it pages someone else.
      const errored = Object.entries(ran.requirements).flatMap(([id, v]) => (v.verdict === 'error' ? [id] : []));
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
