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
import { requirements } from '../requirements/registry.js';
import { labsUp, labUp } from './labs-up.js';
import { runPlatform } from './platform-run.js';
import { registerRun } from './runs.js';

export interface EvaluateOptions {
  config: string;
  platform?: string[];
  out?: string;
  requirement?: string;
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
}

/** Refuses a --requirement pattern that is not a regex or matches no requirement id. */
function checkRequirementPattern(pattern: string): void {
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch {
    throw new ConfigInvalid(`--requirement '${pattern}': not a valid regular expression (e.g. LC-0 or 'DSK|NIC')`);
  }
  if (!requirements.some((r) => re.test(r.id)))
    throw new ConfigInvalid(`--requirement '${pattern}' matches no requirement id (e.g. LC-01, DSK-0, 'DSK|NIC')`);
}

/** Runs the evaluation; `finish` is called with what ran however it ends (the report is written there). */
export async function evaluate(
  opts: EvaluateOptions,
  say: Say,
  finish: (e: Evaluation) => Promise<void>,
): Promise<number> {
  // An evaluation reports every finding as it is: the test pass's known-findings list never applies here.
  delete process.env[knownFindingsEnv];
  const configPath = resolve(opts.config);
  const { config } = await loadLabConfig(configPath);
  const chosen = opts.platform ?? configuredPlatforms(config);
  if (opts.requirement) checkRequirementPattern(opts.requirement);
  if (opts.signKey) await checkSignKey(opts.signKey);
  for (const p of chosen)
    if (!config.platforms[p as keyof typeof config.platforms])
      throw new ConfigInvalid(`platform '${p}' is not configured in ${opts.config} (platforms.${p} is missing)`);
  const runId = newRunId();
  const evaluation: Evaluation = {
    runId,
    outDir: resolve(opts.out ?? config.outputDir, runId),
    bundles: [],
    exitCode: 0,
  };
  const unregister = await registerRun(runId, chosen);
  let failed = false;
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
        vitestArgs: ['--project', 'conformance', ...(opts.requirement ? ['-t', opts.requirement] : [])],
        say,
        ...(opts.lab && isLab(p) ? { recover: () => labUp(p, say) } : {}),
      });
      // Requirement verdicts, not vitest's test states: a simulated or container-only pass is no pass.
      say(
        `${p}: ${tallyText(bundle.requirements)}; ${counts.failed} of ${counts.total} tests failed; bundle: ${bundlePath}`,
      );
      failed ||= counts.failed > 0 || counts.total === 0 || leaks.after.length > 0;
      if (counts.interrupted) {
        evaluation.exitCode = 130;
        return evaluation.exitCode;
      }
    }
    evaluation.exitCode = failed ? 1 : 0;
    return evaluation.exitCode;
  } finally {
    await unregister();
    await finish(evaluation);
    // Tamper evidence: hashes of everything the run and its report wrote (signed with --sign-key).
    await sealRun(evaluation.outDir, opts.signKey, say);
  }
}
