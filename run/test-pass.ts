/**
 * The project's test pass (what CI runs): the unit and lab-harness tests once, then the conformance suites
 * on every platform of the local lab config. One platform that cannot be tested counts as one failure and
 * the others are still tested, so the summary line is always printed.
 */
import { resolve } from 'node:path';
import { newRunId, type Say } from '../adapters/contract/index.js';
import { configuredPlatforms, loadLabConfig } from '../adapters/lab-config.js';
import { isLab } from '../lab/labs.js';
import { knownFindingsEnv } from '../requirements/known-findings.js';
import { labsUp, labUp } from './labs-up.js';
import { runPlatform } from './platform-run.js';
import { registerRun } from './runs.js';
import { namePattern, select } from './selection.js';
import { testPassScope } from './test-pass-scope.js';
import { repoRoot, runVitest, type VitestCounts } from './vitest-run.js';

export async function testPass(opts: { unitOnly?: boolean }, say: Say): Promise<VitestCounts> {
  const runId = newRunId();
  const configPath = resolve(repoRoot, 'lab/lab.local.yaml');
  const total: VitestCounts = { passed: 0, failed: 0, skipped: 0, total: 0, exitCode: 0, interrupted: false };
  const add = (c: VitestCounts, leaked = 0) => {
    total.passed += c.passed;
    // A leak is a failure of the run even when every test passed.
    total.failed += c.failed + (leaked > 0 ? 1 : 0);
    total.skipped += c.skipped;
    total.total += c.total;
    total.interrupted ||= c.interrupted;
    if (c.signal) total.signal ??= c.signal;
    if (c.exitCode !== 0 && c.skipped === 0) total.exitCode = c.exitCode;
  };
  if (opts.unitOnly) {
    add(await runVitest(['--project', 'unit'], {}, resolve(repoRoot, 'out', runId, 'unit', 'vitest.json')));
  } else {
    const { config } = await loadLabConfig(configPath);
    const chosen = configuredPlatforms(config);
    const labFailed = new Map<string, string>();
    await labsUp(config, chosen, say, labFailed);
    const unregister = await registerRun(runId, chosen);
    // The project's test pass (only here, never `evaluate`) skips real-platform findings listed in
    // requirements/known-findings.yaml (a waiver file) and fails on a listed one that no longer reproduces; evidence keeps `fail`.
    process.env[knownFindingsEnv] = '1';
    // One platform that cannot be tested is one failure; the others are still tested and the summary printed.
    const broken = (platform: string, why: string) => {
      say(`FAILED ${platform}: ${why}`);
      total.failed += 1;
    };
    let first = true;
    try {
      // One platform after another, unlike `evaluate`: the first platform's pass carries the lab-harness tests,
      // which stop and restart that lab's daemons and run evaluations of their own, beside the others' suites.
      for (const platform of chosen) {
        if (total.interrupted) break;
        const labError = labFailed.get(platform);
        if (labError !== undefined) {
          broken(platform, `its lab did not come up: ${labError}`);
          continue;
        }
        say(`testing ${platform} (run ${runId})`);
        // A platform whose whole pass does not fit CI leaves out what it declares (never the first: that pass carries the unit tests).
        const scope = first ? undefined : testPassScope[platform];
        const sel = scope ? select({ skip: scope.skip }) : undefined;
        if (scope && sel) say(`${platform}: the test pass leaves out ${scope.skip.replaceAll(',', ' ')}: ${scope.why}`);
        try {
          const r = await runPlatform({
            platform,
            runId,
            config,
            configPath,
            out: resolve(repoRoot, 'out', runId, platform),
            // Unit and lab-harness tests once, with the first platform tested; conformance suites on every one.
            vitestArgs: first ? [] : ['--project', 'conformance', ...(sel?.files ?? [])],
            ...(sel ? { namePattern: namePattern(sel.run), selected: sel.run } : {}),
            say,
            ...(isLab(platform) ? { recover: () => labUp(platform, say) } : {}),
          });
          first = false;
          add(r.counts, r.leaks.after.length);
        } catch (e) {
          broken(platform, `the run could not finish: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    } finally {
      await unregister();
    }
  }
  return total;
}
