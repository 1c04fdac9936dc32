/**
 * One platform's run: leak check before, the suites in a vitest child, leak check and cleanup after.
 * Cleanup lives here, in the parent, so it happens however the suites ended (failure, Ctrl-C).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { OwnedObject, Platform } from '../adapters/contract/index.js';
import type { LabConfig } from '../adapters/lab-config.js';
import { connectTarget } from '../adapters/platforms.js';
import type { Bundle } from '../evidence/bundle.js';
import { ResultsWriter } from '../evidence/results.js';
import { Transcript } from '../evidence/transcript.js';
import { type LeakReport, removeOwned } from './runs.js';
import { runVitest, type VitestCounts } from './vitest-run.js';

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
  vitestArgs: string[];
  /** Runs only the tests whose titles this vitest -t pattern matches (see run/selection.ts). */
  namePattern?: string;
  /** The requirement ids a narrowed run is limited to, recorded in the bundle. */
  selected?: string[];
  say: (m: string) => void;
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
  const counts = await runVitest(
    opts.vitestArgs,
    {
      VMCONFORM_PLATFORM: platform,
      VMCONFORM_RUN_ID: runId,
      VMCONFORM_CONFIG: opts.configPath,
      VMCONFORM_OUT: opts.out,
      ...(opts.selected ? { VMCONFORM_SELECTED: opts.selected.join(',') } : {}),
    },
    join(opts.out, 'vitest.json'),
    {
      ...(opts.namePattern ? { namePattern: opts.namePattern } : {}),
      onSecondInterrupt: () =>
        say(
          `may be left on ${platform}: objects of run ${runId}; remove them with: vmconform sweep -p ${platform} --run ${runId}`,
        ),
    },
  );
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
