/**
 * One platform's run: leak check before, the suites in a vitest child, leak check and cleanup after.
 * Cleanup lives here, in the parent, so it happens however the suites ended (failure, Ctrl-C).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { OwnedObject, Platform } from '../adapters/contract/index.js';
import type { LabConfig } from '../adapters/lab-config.js';
import { connectTarget } from '../adapters/platforms.js';
import type { Bundle } from '../evidence/bundle.js';
import { ResultsWriter } from '../evidence/results.js';
import { Transcript } from '../evidence/transcript.js';
import { machineLoad } from '../host/load.js';
import { type ProgressPlan, progressEnv } from './progress.js';
import { type LeakReport, removeOwned } from './runs.js';
import type { QuietGate } from './schedule.js';
import { runVitest, type VitestCounts } from './vitest-run.js';

/** Adds a later pass's counts to the run's. */
function add(total: VitestCounts, c: VitestCounts): void {
  total.passed += c.passed;
  total.failed += c.failed;
  total.skipped += c.skipped;
  total.total += c.total;
  if (c.exitCode !== 0) total.exitCode = c.exitCode;
  total.interrupted ||= c.interrupted;
  if (c.signal) total.signal ??= c.signal;
}

/** The requirements an earlier pass already reported in the bundle. */
const bundleRequirements = (out: string) =>
  readFile(join(out, 'results.json'), 'utf8').then(
    (s) => [...new Set((JSON.parse(s) as Bundle).tests.flatMap((t) => t.requirements))],
    () => [] as string[],
  );

export interface PlatformRun {
  counts: VitestCounts;
  leaks: LeakReport;
  /** The evidence bundle with the leak check folded in (results.json). */
  bundle: Bundle;
  bundlePath: string;
}

export async function runPlatform(opts: {
  platform: Platform;
  runId: string;
  config: LabConfig;
  configPath: string;
  out: string;
  vitestArgs?: string[];
  /** Runs only the tests whose titles this vitest -t pattern matches (see run/selection.ts). */
  namePattern?: string;
  /** The requirement ids a narrowed run is limited to, recorded in the bundle. */
  selected?: string[];
  say: (m: string) => void;
  /**
   * The run's second pass, inside the evaluation's quiet window: the requirements that need a quiet machine
   * (with `vitestArgs`/`namePattern` of the first pass leaving their tests out). No first pass: `vitestArgs` unset.
   */
  quiet?: { gate: QuietGate; ids: string[]; vitestArgs: string[]; namePattern: string };
  /** vitest's own output goes to this file, not the terminal (platforms at once). */
  log?: string;
  /** Progress lines per requirement (n/total, time left) on stderr; without it, the reporter's lines as before. */
  progress?: Omit<ProgressPlan, 'done'>;
  /** The signal that is stopping the whole evaluation, if any (an interrupt between suite passes). */
  stopping?: () => 'SIGINT' | 'SIGTERM' | undefined;
  /** Brings a local lab's daemons back (an interrupt can land mid daemon-restart) before cleanup. */
  recover?: () => Promise<void>;
}): Promise<PlatformRun> {
  const { platform, runId, say } = opts;
  const target = await connectTarget(platform, opts.config.platforms, { runId, transcript: new Transcript() });
  // Every site's own API (one driver per host on libvirt; a shared driver appears once).
  const others = [...new Set((target.sites ?? []).map((s) => s.driver))].filter((d) => d !== target.driver);
  const ownedEverywhere = async () => [
    ...(await target.driver.owned()),
    ...(await Promise.all(others.map((d) => d.owned()))).flat(),
  ];
  const before = (await ownedEverywhere()).filter((o) => o.runId !== runId);
  if (before.length > 0) {
    say(
      `leak check: ${before.length} objects of other runs are on ${platform} (remove those of dead runs with: vmconform sweep -p ${platform})`,
    );
  }
  const pass = async (args: string[], namePattern: string | undefined, name: string, done: string[]) =>
    runVitest(
      args,
      {
        VMCONFORM_PLATFORM: platform,
        VMCONFORM_RUN_ID: runId,
        VMCONFORM_CONFIG: opts.configPath,
        VMCONFORM_OUT: opts.out,
        ...(opts.selected ? { VMCONFORM_SELECTED: opts.selected.join(',') } : {}),
        ...(name === 'vitest' ? {} : { VMCONFORM_CONTINUE: '1' }),
        ...(opts.progress ? { [progressEnv]: JSON.stringify({ ...opts.progress, done }) } : {}),
      },
      join(opts.out, `${name}.json`),
      {
        ...(namePattern ? { namePattern } : {}),
        ...(opts.log ? { log: opts.log } : {}),
        onSecondInterrupt: () =>
          say(
            `may be left on ${platform}: objects of run ${runId}; remove them with: vmconform sweep -p ${platform} --run ${runId}`,
          ),
      },
    );
  const none: VitestCounts = { passed: 0, failed: 0, skipped: 0, total: 0, exitCode: 0, interrupted: false };
  // An interrupt that landed while no suites ran (platforms at once): this run's suites do not start.
  const counts = opts.stopping?.()
    ? { ...none, interrupted: true, signal: opts.stopping() || 'SIGINT' }
    : opts.vitestArgs
      ? await pass(opts.vitestArgs, opts.namePattern, 'vitest', [])
      : none;
  // The quiet window: the requirements that need a quiet machine, once no other platform's suites run.
  const quiet = opts.quiet;
  if (quiet && !counts.interrupted) {
    const t0 = performance.now();
    if (await quiet.gate.enter())
      try {
        const load = machineLoad();
        const waited = Math.round((performance.now() - t0) / 1000);
        say(
          `${platform}: quiet window for ${quiet.ids.join(' ')}: no other platform's suites running${waited > 0 ? ` (waited ${waited} s)` : ''}; machine load ${load.load1.toFixed(1)} on ${load.cpus} cores`,
        );
        const done = await bundleRequirements(opts.out);
        add(counts, await pass(quiet.vitestArgs, quiet.namePattern, 'vitest-quiet', done));
      } finally {
        quiet.gate.release();
      }
    else {
      // The run is stopping (an interrupt elsewhere): the quiet pass does not start.
      counts.interrupted = true;
      counts.signal ??= 'SIGINT';
    }
  }
  if (counts.interrupted)
    say(`interrupted: removing what run ${runId} created on ${platform} (Ctrl-C again to exit at once)`);
  const listOwn = async () => (await target.driver.owned()).filter((o) => o.runId === runId);
  let after: OwnedObject[];
  try {
    after = await listOwn();
  } catch (e) {
    if (!opts.recover) throw e;
    say(
      `${platform} does not answer after the suites (${e instanceof Error ? e.message : String(e)}); bringing the local lab back`,
    );
    await opts.recover();
    after = await listOwn();
  }
  const remaining = after.length > 0 ? await removeOwned(target.driver, after, say) : [];
  // A run interrupted while it had a site lost (MDC-03/04) gets that site back before looking there.
  for (const site of target.sites ?? []) await site.control.restore?.().catch(() => undefined);
  // Further sites: what the suites left there is a leak of this run too (after the main site's lab is back).
  for (const d of others) {
    const left = await d.owned().then(
      (all) => all.filter((o) => o.runId === runId),
      (e: unknown) => {
        say(`a further site does not answer after the suites: ${e instanceof Error ? e.message : String(e)}`);
        return [];
      },
    );
    after.push(...left);
    if (left.length > 0) remaining.push(...(await removeOwned(d, left, say)));
  }
  const leaks: LeakReport = { before, after, remaining };
  await writeFile(join(opts.out, 'leaks.json'), JSON.stringify(leaks, null, 2));
  const bundle = await ResultsWriter.finish(opts.out, runId, platform, leaks, counts.interrupted);
  // vitest writes no JSON when interrupted: the bundle holds the tests that did run, so count those.
  if (counts.interrupted) {
    for (const state of ['passed', 'failed', 'skipped'] as const)
      counts[state] = bundle.tests.filter((t) => t.state === state).length;
    counts.total = bundle.tests.length;
  }
  const removed = after.length - remaining.length;
  if (after.length === 0) say(`leak check: nothing of run ${runId} left on ${platform}`);
  else if (counts.interrupted)
    say(`cleanup after interrupt: ${removed} of ${after.length} objects of run ${runId} removed`);
  else
    say(
      `leak check FAILED: the suites left ${after.length} objects of this run on ${platform}; ${removed} removed now`,
    );
  if (remaining.length > 0)
    say(
      `still left: ${remaining.map((o) => o.name).join(', ')}; remove with: vmconform sweep -p ${platform} --run ${runId}`,
    );
  await target.driver.close();
  for (const d of others) await d.close();
  return { counts, leaks, bundle, bundlePath: join(opts.out, 'results.json') };
}
