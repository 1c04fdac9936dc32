/**
 * `evaluate --list`: per platform, what a run with these options would do, without running anything:
 * the requirements that would run, the ones left out and why, and the ones the platform's capabilities
 * and checks already say will end prereq-missing (run/preflight.ts; the lab is not brought up).
 */
import { newRunId, type Say } from '../adapters/contract/index.js';
import { requirements } from '../requirements/registry.js';
import { type EvaluateOptions, prepare } from './evaluate.js';
import { preflight } from './preflight.js';
import type { Selection } from './selection.js';

export interface PlatformPlan {
  platform: string;
  /** Empty when the platform was not reached. */
  endpoint: string;
  /** The requirements whose tests would run, in registry order. */
  run: string[];
  /** Of those, the ones that will end prereq-missing, with the failed checks that say so. */
  prereqMissing: { id: string; because: string[] }[];
  /** Selected, but no suite tests them: only an assessment file gives them a verdict. */
  noTest: string[];
  skipped: { id: string; why: 'skip' | 'not-selected' }[];
  /** With --rerun: the earlier run whose non-passes would run again. */
  rerunOf?: string;
  /** Failed checks about the platform as a whole (not reached, evidence kind): they concern every requirement. */
  notes: string[];
}

const automatable = requirements.filter((r) => r.verification !== 'manual').length;

export async function listPlan(opts: EvaluateOptions, say: Say): Promise<PlatformPlan[]> {
  const { config, chosen, selections, earlier, nothingToRerun } = await prepare(opts);
  for (const p of nothingToRerun) say(`${p}: nothing to rerun in run ${earlier.get(p)?.bundle.runId}`);
  const runId = newRunId();
  const plans: PlatformPlan[] = [];
  for (const platform of chosen) {
    const selection = selections.get(platform) as Selection;
    const report = await preflight(config, platform, runId, say);
    const plan: PlatformPlan = {
      platform,
      endpoint: report.endpoint,
      run: selection.run,
      prereqMissing: [],
      noTest: selection.noTest,
      skipped: selection.skipped,
      ...(earlier.has(platform) ? { rerunOf: earlier.get(platform)?.bundle.runId } : {}),
      notes: [],
    };
    const because = new Map<string, string[]>();
    for (const c of report.checks.filter((x) => !x.ok)) {
      // A check that affects every automatable requirement is about the platform, not a missing prerequisite.
      if (c.affects.length >= automatable) {
        plan.notes.push(`${c.name}: ${c.detail}`);
        continue;
      }
      for (const id of c.affects) because.set(id, [...(because.get(id) ?? []), `${c.name}: ${c.detail}`]);
    }
    for (const id of selection.run) {
      const b = because.get(id);
      if (b) plan.prereqMissing.push({ id, because: b });
    }
    plans.push(plan);
  }
  return plans;
}

/** The plan as text, one block per platform. */
export function planLines(p: PlatformPlan): string[] {
  const ids = (l: readonly string[]) => `(${l.length})${l.length ? `: ${l.join(' ')}` : ''}`;
  const bySkip = p.skipped.filter((s) => s.why === 'skip').map((s) => s.id);
  const notSelected = p.skipped.filter((s) => s.why === 'not-selected').map((s) => s.id);
  return [
    `${p.platform} (${p.endpoint || 'not reached'})`,
    ...(p.rerunOf ? [`  rerun of run ${p.rerunOf}: what did not pass there`] : []),
    `  would run ${ids(p.run)}`,
    ...p.prereqMissing.map((m) => `  will end prereq-missing: ${m.id} (${m.because.join('; ')})`),
    ...(p.noTest.length ? [`  no test, assessment only ${ids(p.noTest)}`] : []),
    ...(bySkip.length ? [`  skipped by --skip ${ids(bySkip)}`] : []),
    ...(notSelected.length ? [`  not selected ${ids(notSelected)}`] : []),
    ...p.notes.map((n) => `  note: ${n}`),
  ];
}
