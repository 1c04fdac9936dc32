/**
 * Runs on this machine, leak checks around a run, and the sweeper. A run registers itself with its
 * pid so a sweep never touches the objects of a run that is still alive.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type OwnedObject, runIdPattern } from '../adapters/contract/index.js';
import { pidAlive, readJson, writeJson } from '../host/host.js';

const runsDir = '/var/lib/vmconform/runs';

export interface RunRecord {
  runId: string;
  pid: number;
  platforms: string[];
  startedAt: string;
}

export async function registerRun(runId: string, platforms: string[]): Promise<() => Promise<void>> {
  await mkdir(runsDir, { recursive: true });
  const path = join(runsDir, `${runId}.json`);
  await writeJson(path, {
    runId,
    pid: process.pid,
    platforms,
    startedAt: new Date().toISOString(),
  } satisfies RunRecord);
  return () => rm(path, { force: true });
}

export async function liveRuns(): Promise<Set<string>> {
  const live = new Set<string>();
  const files = await readdir(runsDir).catch(() => [] as string[]);
  for (const f of files) {
    const r = await readJson<RunRecord>(join(runsDir, f));
    if (r && (await pidAlive(r.pid))) live.add(r.runId);
  }
  return live;
}

/** When a run started, from its id (20261124t1847-26e8); undefined for ids of another shape. */
export function runStartedAt(runId: string): Date | undefined {
  if (!runIdPattern.test(runId)) return undefined;
  const m = /^(\d{4})(\d{2})(\d{2})t(\d{2})(\d{2})/.exec(runId);
  return m ? new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:00Z`) : undefined;
}

export type SweepDecision = { object: OwnedObject; action: 'remove' | 'keep'; why: string };

/**
 * Which owned objects a sweep may remove: those of runs that are not alive here and started longer
 * ago than `olderThanMs` (a run on another machine may share the lab host and cannot be asked).
 */
export function decideSweep(
  objects: OwnedObject[],
  live: Set<string>,
  now: Date,
  olderThanMs: number,
  onlyRun?: string,
): SweepDecision[] {
  return objects.map((object) => {
    if (onlyRun && object.runId !== onlyRun) return { object, action: 'keep', why: `not run ${onlyRun}` };
    if (live.has(object.runId)) return { object, action: 'keep', why: 'its run is alive on this machine' };
    const started = runStartedAt(object.runId);
    if (!onlyRun && started && now.getTime() - started.getTime() < olderThanMs) {
      return {
        object,
        action: 'keep',
        why: `its run started ${Math.round((now.getTime() - started.getTime()) / 60000)} min ago (younger than --older-than)`,
      };
    }
    return { object, action: 'remove', why: 'its run is not alive' };
  });
}

/** How each kind of owned object is removed. */
export { removeOwned } from '../adapters/contract/index.js';

export interface LeakReport {
  /** Owned objects of other runs found before this run started (leftovers of crashed runs). */
  before: OwnedObject[];
  /** This run's objects still present after its suites ended: a failure (the suites should have removed them). */
  after: OwnedObject[];
  /** Of those, what the cleanup could not remove. */
  remaining: OwnedObject[];
}
