/**
 * The project's time-to-verdict targets (issue 19), each as met or the measured distance with what dominates
 * it, and the guest boots per suite before (an earlier bench given with --baseline) and after. Pure: bench.md
 * and the report's benchmark section both render these lines from one bench.json.
 */
import type { Bench, BenchBaseline, Boots, SuiteRun, SuiteSet } from './bench.js';

/** The whole evaluation at once takes at most this many times the slowest platform alone. */
export const wholeTarget = 1.2;
/** The libvirt suite alone, after lab up, in seconds. */
export const libvirtSoloTargetS = 180;
/** A lifecycle through vmconform takes at most 3% longer than the direct sequence. */
export const overheadTarget = 1.03;
/** The platforms whose overhead the target covers: the ones with a real platform and a direct sequence here. */
const overheadPlatforms = ['libvirt', 'incus'] as const;

// The bench tables' formats (render-bench.ts uses these too).
export const fmtS = (s: number) =>
  s >= 600 ? `${(s / 60).toFixed(1)} min` : s >= 100 ? `${Math.round(s)} s` : `${s.toFixed(1)} s`;
export const pct = (x: number) => `${x >= 10 || x === 0 ? Math.round(x) : x.toFixed(1)}%`;
const times = (x: number) => `${x.toFixed(2)}×`;
/** suites/disks.conformance.ts → disks. */
export const suiteName = (file: string) => file.replace(/^suites\/|\.conformance\.ts$/g, '');

/**
 * A run's guest boots, with the baseline's beside them when there is one: `66 (before 67): disks 22 (before
 * 24), …`; files only the baseline booted in show as 0 now. `top` keeps the files with the most boots.
 */
export function bootsText(now: Boots | undefined, before?: Boots, top = Number.POSITIVE_INFINITY): string {
  if (!now) return before ? `not counted (before ${before.total})` : '—';
  if (!before) {
    const files = Object.entries(now.byFile)
      .slice(0, top)
      .map(([f, n]) => `${suiteName(f)} ${n}`);
    return `${now.total}${now.total ? ` (${files.join(', ')})` : ''}`;
  }
  const files = [...new Set([...Object.keys(now.byFile), ...Object.keys(before.byFile)])]
    .map((f) => [f, now.byFile[f] ?? 0, before.byFile[f] ?? 0] as const)
    .filter(([, n, b]) => n + b > 0)
    .sort(([, a], [, b]) => b - a)
    .slice(0, top)
    .map(([f, n, b]) => `${suiteName(f)} ${n} (before ${b})`);
  return `${now.total} (before ${before.total})${files.length ? `: ${files.join(', ')}` : ''}`;
}

const loadOf = (set: SuiteSet, during: string) => `load avg ${set.usage.loadAvg1.toFixed(1)} during ${during}`;
const slowestFiles = (r: SuiteRun) =>
  r.slowest.length ? `slowest files ${r.slowest.map((f) => `${suiteName(f.file)} ${fmtS(f.seconds)}`).join(', ')}` : '';
const joined = (parts: string[]) => parts.filter(Boolean).join('; ');

/** Whole evaluation at once against the slowest platform alone. */
function wholeLine(b: Bench, base: BenchBaseline | undefined): string {
  const head = `whole evaluation at once ≤ ${wholeTarget} × the slowest platform alone`;
  const { parallel, solo } = b.suites;
  if (!parallel || !solo) {
    const lacking =
      !parallel && !solo ? 'run of all at once and no solo runs' : parallel ? 'solo runs' : 'run of all at once';
    return `${head}: not measured: this bench has no ${lacking} (\`--suites both\` measures both)`;
  }
  const soloRuns = Object.entries(solo.runs);
  if (soloRuns.length === 0 || Object.keys(parallel.runs).length === 0)
    return `${head}: not measured: a suite set ran no platform`;
  const [slowP, slowR] = soloRuns.reduce((a, x) => (x[1].wallS > a[1].wallS ? x : a));
  const failed = [...Object.entries(parallel.runs), ...soloRuns].filter(([, r]) => r.error).map(([p]) => p);
  const load = `${loadOf(parallel, 'the run of all at once')}, ${solo.usage.loadAvg1.toFixed(1)} during the solo runs`;
  if (failed.length)
    return `${head}: not measured: the suite runs of ${[...new Set(failed)].join(', ')} failed (see "Parts that failed"); ${load}`;
  const ratio = parallel.wallS / slowR.wallS;
  const against = `${fmtS(parallel.wallS)} at once against ${slowP}'s ${fmtS(slowR.wallS)} alone`;
  if (ratio <= wholeTarget) return `${head}: met (${times(ratio)}: ${against}); ${load}`;
  // The platform that finishes last at once is the one the whole evaluation waits for.
  const [lastP, lastR] = Object.entries(parallel.runs).reduce((a, x) => (x[1].wallS > a[1].wallS ? x : a));
  const alone = solo.runs[lastP];
  const slowdown = alone?.wallS
    ? ` (${fmtS(alone.wallS)} alone, ${lastR.wallS >= alone.wallS ? '+' : ''}${Math.round(((lastR.wallS - alone.wallS) / alone.wallS) * 100)}%)`
    : '';
  const boots = lastR.boots ? `guest boots ${bootsText(lastR.boots, base?.boots[lastP], 3)}` : '';
  return `${head}: missed: ${times(ratio)}, ${fmtS(parallel.wallS - wholeTarget * slowR.wallS)} over the ${wholeTarget}× line (${against}); dominated by ${lastP}, last to finish at ${fmtS(lastR.wallS)}${slowdown}: ${joined([slowestFiles(lastR), boots])}; ${load}`;
}

/** The libvirt suite alone; the run of all at once stands in, labelled, when there was no solo run. */
function libvirtLine(b: Bench, base: BenchBaseline | undefined): string {
  const head = `libvirt suite alone ≤ ${libvirtSoloTargetS} s`;
  const solo = b.suites.solo?.runs.libvirt && b.suites.solo;
  const set = solo || (b.suites.parallel?.runs.libvirt && b.suites.parallel);
  const r = set ? set.runs.libvirt : undefined;
  if (!set || !r)
    return `${head}: not measured: this bench has no libvirt suite run (\`--suites solo\` or \`--suites both\` with libvirt in the config)`;
  const where = solo ? '' : ' (measured with all platforms at once, not alone: `--suites both` measures it alone)';
  const load = loadOf(set, solo ? 'the solo runs' : 'the run of all at once');
  if (r.error) return `${head}: not measured: the libvirt suite run failed (see "Parts that failed")${where}; ${load}`;
  if (r.wallS <= libvirtSoloTargetS) return `${head}: met (${fmtS(r.wallS)})${where}; ${load}`;
  const boots = r.boots && `guest boots ${bootsText(r.boots, base?.boots.libvirt, 3)}`;
  const api = `platform calls ${fmtS(r.apiS)} of ${fmtS(r.testsS)} test time (${r.testsS > 0 ? pct((r.apiS / r.testsS) * 100) : '—'})`;
  const causes = joined([
    boots || '',
    slowestFiles(r),
    api,
    boots ? '' : 'guest boots not counted (a bench from before boot counting)',
  ]);
  return `${head}: missed: ${fmtS(r.wallS)}, ${fmtS(r.wallS - libvirtSoloTargetS)} over (${times(r.wallS / libvirtSoloTargetS)} the target)${where}; dominated by: ${causes}; ${load}`;
}

const callList = (m: Record<string, number>) =>
  Object.entries(m)
    .map(([k, n]) => `${k} ×${n}`)
    .join(', ');

/** Overhead ratio of medians on one platform, with the calls the harness adds. */
function overheadLine(b: Bench, p: string): string {
  const head = `overhead ratio of medians ≤ ${overheadTarget}, ${p}`;
  const x = b.platforms[p];
  if (!x) return `${head}: not measured (${p} was not benched)`;
  const o = x.overhead;
  if (!o) return `${head}: not measured: ${x.overheadNote ?? 'the bench gave no reason'}`;
  const spread = `per repetition ${o.ratio.min.toFixed(3)}–${o.ratio.max.toFixed(3)}`;
  const c = o.calls;
  const added = !c
    ? undefined
    : !c.added
      ? `${c.harnessTotal} calls per lifecycle through the harness; the direct sequence's were not recorded`
      : Object.keys(c.added).length
        ? `the harness adds ${callList(c.added)} per lifecycle`
        : 'the harness adds no calls: the difference is its own time between them';
  // The overhead repetitions record no machine usage; the 1-VM scale step runs right after them.
  const step = x.scale.find((s) => s.vms === 1) ?? x.scale[0];
  const load = step
    ? `load avg ${step.usage.loadAvg1.toFixed(1)} at the ${step.vms}-VM scale step right after (the overhead runs record none)`
    : 'machine load not recorded for the overhead runs';
  const r = o.ratioOfMedians;
  const verdict =
    r <= overheadTarget
      ? `met (${r.toFixed(3)}; ${spread}); ${added ?? 'calls per lifecycle not recorded'}`
      : `missed: ${r.toFixed(3)}, ${(r - overheadTarget).toFixed(3)} over (${spread}); dominated by: ${added ?? 'not known (this bench did not record the calls per lifecycle)'}`;
  return `${head}: ${verdict}; ${load}`;
}

/** Guest boots per platform's suite run (solo where there is one), beside the baseline's. */
function bootsLines(b: Bench, base: BenchBaseline | undefined): string[] {
  const platforms = [
    ...new Set([...Object.keys(b.suites.solo?.runs ?? {}), ...Object.keys(b.suites.parallel?.runs ?? {})]),
  ];
  const lines = platforms.flatMap((p) => {
    const solo = b.suites.solo?.runs[p];
    const [from, r] = solo?.boots ? (['solo', solo] as const) : (['all at once', b.suites.parallel?.runs[p]] as const);
    const before = base?.boots[p];
    if (!r?.boots && !before) return [];
    // Boots do not depend on the mode, but say so when before and after come from different ones.
    const was =
      before && before.from !== (r === solo ? 'solo' : 'parallel')
        ? ` (before: ${before.from === 'solo' ? 'solo' : 'all at once'})`
        : '';
    return [`guest boots, ${p} (${from})${was}: ${bootsText(r?.boots, before)}`];
  });
  if (!base) return lines;
  return [
    `before = bench ${base.runId} (${base.at}, harness commit ${base.harnessCommit.slice(0, 12)}, ${base.path})`,
    ...lines,
  ];
}

/**
 * The three targets, met or the distance to each with what dominates it and the machine's load while it was
 * measured, then the guest boots per suite before and after. The baseline defaults to the one bench.json keeps.
 */
export function benchTargets(b: Bench, baseline: BenchBaseline | undefined = b.baseline): string[] {
  return [
    wholeLine(b, baseline),
    libvirtLine(b, baseline),
    ...overheadPlatforms.map((p) => overheadLine(b, p)),
    ...bootsLines(b, baseline),
  ];
}
