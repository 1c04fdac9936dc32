/**
 * bench.md and the report's benchmark section, from one bench.json (vmconform.bench/v2). Pure: the bench
 * runner and `vmconform report --bench` call the same functions, and each table's cells are built once
 * and only then written as Markdown or HTML, so the two cannot disagree.
 */
import type { Stats } from '../evidence/bundle.js';
import type { Bench, BenchPhase, BenchPlatform, Boots, ScaleStep, SuiteRun, SuiteSet, Usage } from './bench.js';
import { benchPhases, machineShare } from './bench.js';
import { benchTargets, bootsText, fmtS, overheadTarget, pct } from './bench-targets.js';
import { esc, timingChart } from './html-parts.js';
import { fmtMs } from './report-model.js';

export const benchPhaseNames: Record<BenchPhase, string> = {
  createAccepted: 'API accepted (create)',
  createDone: 'task done (create)',
  startAccepted: 'API accepted (start)',
  startDone: 'task done (start)',
  running: 'platform reports running',
  guestReady: 'guest ready',
  stop: 'graceful stop',
  delete: 'delete',
};

export { overheadTarget };

const missing = '—';
const compareWarning = 'Compare only with runs on the same accelerator and core count.';
const simulatedNote =
  'Simulated figures prove the adapter only, never the platform: they time a simulator of the documented API.';
const incompleteText = 'INCOMPLETE: this bench was interrupted or a part failed; the figures cover only what ran.';
const setTitle = {
  parallel: 'all platforms at once, one evaluate',
  solo: 'one platform at a time, each its own evaluate',
} as const;

interface Table {
  head: string[];
  rows: string[][];
}

type Platform = string;
/** Platforms in the order the bench measured them (the file's order). */
const entries = <T>(rec: Record<Platform, T>): [Platform, T][] => Object.entries(rec);

const accelName = (a: BenchPlatform['accel']) => (a === 'kvm' || a === 'tcg' ? a.toUpperCase() : a);
/** What a column header carries: the evidence kind, and for real VMs the accelerator they ran on. */
const evidenceTag = (x: BenchPlatform) => (x.evidence === 'real' ? `real, ${accelName(x.accel)}` : x.evidence);
const labelled = (p: Platform, x: BenchPlatform) => `${p} (${evidenceTag(x)})`;

const mib = (x: number) => (x >= 1024 ? `${(x / 1024).toFixed(2)} GiB` : `${Math.round(x)} MiB`);
const share = (part: number, whole: number) => (whole > 0 ? pct((part / whole) * 100) : missing);

/** CPU-seconds per process group as a share of the whole machine over the window. */
const cpuShares = (u: Usage) =>
  Object.entries(u.cpuS)
    .map(([group]) => `${group} ${pct(machineShare(u, group))}`)
    .join(', ') || missing;

function usageLine(u: Usage): string {
  return `CPU busy ${pct(u.cpuBusyPct)}, iowait ${pct(u.iowaitPct)}, disk read ${mib(u.diskReadMiB)} / written ${mib(u.diskWriteMiB)}, load avg ${u.loadAvg1.toFixed(1)}; CPU share of the machine (${u.cores} cores × ${fmtS(u.wallS)}): ${cpuShares(u)}`;
}

const overheadVerdict = (r: number) => `${r.toFixed(3)} (${r <= overheadTarget ? 'within' : 'OVER'} target)`;

function overheadTable(b: Bench): Table | null {
  const rows = entries(b.platforms).flatMap(([p, x]) => {
    const o = x.overhead;
    if (!o) return [];
    return [
      [
        labelled(p, x),
        o.direct,
        fmtMs(o.directMs.median),
        fmtMs(o.directMs.p95),
        fmtMs(o.vmconformMs.median),
        fmtMs(o.vmconformMs.p95),
        overheadVerdict(o.ratioOfMedians),
        `${o.ratio.min.toFixed(3)} / ${o.ratio.median.toFixed(3)} / ${o.ratio.max.toFixed(3)}`,
      ],
    ];
  });
  if (rows.length === 0) return null;
  return {
    head: [
      'platform',
      'direct sequence',
      'direct median',
      'direct p95',
      'vmconform median',
      'vmconform p95',
      `ratio of medians (target ≤ ${overheadTarget})`,
      'per-repetition ratio min / median / max',
    ],
    rows,
  };
}

const callList = (m: Record<string, number>) =>
  entries(m)
    .map(([k, n]) => `${k} ×${n}`)
    .join(', ');

/** Platform calls per lifecycle, and the ones the harness adds over the direct sequence. */
const overheadCalls = (b: Bench) =>
  entries(b.platforms).flatMap(([p, x]) => {
    const c = x.overhead?.calls;
    if (!c) return [];
    const direct = c.direct ? `; direct ${c.directTotal} (${callList(c.direct)})` : '';
    const added = c.added ? `; the harness adds ${callList(c.added) || 'none'}` : '';
    return [`${p}: calls per lifecycle: vmconform ${c.harnessTotal} (${callList(c.harness)})${direct}${added}`];
  });

const overheadNotes = (b: Bench) =>
  entries(b.platforms)
    .filter(([, x]) => !x.overhead)
    .map(([p, x]) => `${p}: ${x.overheadNote ?? 'not measured, and the bench gave no reason'}`);

function phaseCell(s: Stats | undefined, reps: number): string {
  if (!s) return missing;
  // Fewer samples than repetitions means some failed or were cut short: say so beside the figure.
  return `${fmtMs(s.median)} (${fmtMs(s.p95)})${s.n === reps ? '' : ` n=${s.n}`}`;
}

function phasesTable(b: Bench): Table {
  const cols = entries(b.platforms);
  return {
    head: ['phase: median (p95)', ...cols.map(([p, x]) => labelled(p, x))],
    rows: benchPhases.map((ph) => [
      benchPhaseNames[ph],
      ...cols.map(([, x]) => phaseCell(x.phases[ph], b.settings.reps)),
    ]),
  };
}

function phasesNote(b: Bench): string {
  const short = entries(b.platforms).some(([, x]) => Object.values(x.phases).some((s) => s.n !== b.settings.reps));
  return `Each phase in ms from the start of its own call (create or start)${short ? `; n=… marks fewer samples than the ${b.settings.reps} repetitions` : ''}. Running and guest ready are polled every 100 ms; task done, stop and delete are when the adapter saw them finish, under its own wait policy (long-polled on Incus; elsewhere polls back off to 1-2 s apart), so they can be late by up to one poll. ${simulatedNote}`;
}

const limitText = (s: ScaleStep) => `${s.limit.kind}: ${s.limit.why}`;

/** Scale columns; `brief` ones make the report's compact table. */
const scaleCols: { head: string; cell: (s: ScaleStep) => string; brief?: true }[] = [
  // perVm.n below the step's VM count: some VMs of the step did not finish.
  { head: 'VMs', cell: (s) => (s.perVm.n < s.vms ? `${s.vms} (${s.perVm.n} finished)` : `${s.vms}`), brief: true },
  { head: 'wall', cell: (s) => fmtMs(s.wallMs), brief: true },
  { head: 'per-VM median', cell: (s) => fmtMs(s.perVm.median), brief: true },
  { head: 'per-VM p95', cell: (s) => fmtMs(s.perVm.p95) },
  { head: 'guest ready median', cell: (s) => fmtMs(s.guestReady.median), brief: true },
  { head: 'CPU busy', cell: (s) => pct(s.usage.cpuBusyPct), brief: true },
  { head: 'iowait', cell: (s) => pct(s.usage.iowaitPct), brief: true },
  { head: 'disk written', cell: (s) => mib(s.usage.diskWriteMiB) },
  { head: 'CPU share by group', cell: (s) => cpuShares(s.usage) },
  { head: 'load avg', cell: (s) => s.usage.loadAvg1.toFixed(1) },
  { head: 'limit', cell: limitText, brief: true },
  // The harness's own CPU (this process and the virsh or ssh it runs) per lifecycle in flight.
  { head: 'harness CPU per VM', cell: (s) => `${((s.usage.cpuS.harness ?? 0) / s.vms).toFixed(2)} s` },
];

const unscaled = (b: Bench) =>
  entries(b.platforms)
    .filter(([, x]) => x.scale.length === 0)
    .map(([p]) => p);

/** The step with the most VMs: the limit it reached is the platform's scale limit on this machine. */
const largest = (x: BenchPlatform) =>
  x.scale.reduce<ScaleStep | undefined>((a, s) => (!a || s.vms > a.vms ? s : a), undefined);

/** Suite columns; `brief` ones make the report's compact table. `before`: the baseline bench's boots. */
const suiteCols: { head: string; cell: (r: SuiteRun, before?: Boots) => string; brief?: true }[] = [
  { head: 'time to verdict', cell: (r) => fmtS(r.wallS), brief: true },
  { head: 'harness CPU', cell: (r) => (r.cpuS === undefined ? missing : fmtS(r.cpuS)), brief: true },
  {
    head: 'peak RSS',
    cell: (r) => (r.peakRssMiB === undefined ? missing : `${Math.round(r.peakRssMiB)} MiB`),
    brief: true,
  },
  { head: 'exit', cell: (r) => `${r.exitCode}`, brief: true },
  {
    head: 'passed / failed / skipped',
    cell: (r) => `${r.counts.passed} / ${r.counts.failed} / ${r.counts.skipped}`,
    brief: true,
  },
  {
    head: 'API time of test time',
    cell: (r) => `${fmtS(r.apiS)} of ${fmtS(r.testsS)} (${share(r.apiS, r.testsS)})`,
    brief: true,
  },
  {
    head: 'slowest files',
    cell: (r) => r.slowest.map((f) => `${f.file} ${fmtS(f.seconds)} (${f.tests} tests)`).join(', ') || missing,
  },
  { head: 'guest boots', cell: (r, before) => bootsText(r.boots, before) },
];

function suiteTable(b: Bench, set: SuiteSet, brief: boolean): Table {
  const cols = suiteCols.filter((c) => !brief || c.brief);
  return {
    head: ['platform', ...cols.map((c) => c.head)],
    rows: entries(set.runs).map(([p, r]) => [
      `${p} (${r.evidence ?? 'evidence unknown'})`,
      ...cols.map((c) => c.cell(r, b.baseline?.boots[p])),
    ]),
  };
}

const suiteSets = (b: Bench) =>
  (['parallel', 'solo'] as const).flatMap((k) => (b.suites[k] ? [[k, b.suites[k]] as const] : []));

/** Solo walls summed against the parallel wall, and how much each platform slowed down sharing the machine. */
function soloVsParallel(b: Bench): string[] {
  const { parallel, solo } = b.suites;
  if (!parallel || !solo) return [];
  const soloRuns = entries(solo.runs);
  const sum = soloRuns.reduce((a, [, r]) => a + r.wallS, 0);
  const lines = [
    `Solo runs add up to ${fmtS(sum)} (${soloRuns.length} platforms); in parallel all took ${fmtS(parallel.wallS)}, ${sum > 0 ? (parallel.wallS / sum).toFixed(2) : missing}× the solo sum.`,
  ];
  for (const [p, r] of soloRuns) {
    const par = parallel.runs[p];
    if (par && r.wallS > 0)
      lines.push(
        `${p}: ${fmtS(r.wallS)} solo, ${fmtS(par.wallS)} in parallel (${par.wallS >= r.wallS ? '+' : ''}${Math.round(((par.wallS - r.wallS) / r.wallS) * 100)}%)`,
      );
  }
  return lines;
}

/**
 * How long the main job takes: per platform after lab up and with its labs' recorded bring-up, alone and
 * within the evaluation of all at once, then the whole evaluation both ways.
 */
export function timeToVerdict(b: Bench): string[] {
  const { parallel, solo, labUp } = b.suites;
  if (!parallel && !solo) return [];
  const labsS = (names: readonly string[]) => names.reduce((a, n) => a + (labUp?.labs[n]?.seconds ?? 0), 0);
  const upOf = (p: Platform) => (labUp ? labsS(labUp.platforms[p] ?? []) : undefined);
  const withUp = (s: number, up: number | undefined) =>
    up === undefined ? 'lab up not recorded' : `${fmtS(s + up)} with lab up`;
  const platforms = [...new Set([...entries(solo?.runs ?? {}), ...entries(parallel?.runs ?? {})].map(([p]) => p))];
  const lines = platforms.map((p) => {
    const alone = solo?.runs[p];
    const together = parallel?.runs[p];
    const up = upOf(p);
    const parts = [
      ...(alone ? [`alone ${fmtS(alone.wallS)} after lab up, ${withUp(alone.wallS, up)}`] : []),
      ...(together ? [`with all at once ${fmtS(together.wallS)} after lab up, ${withUp(together.wallS, up)}`] : []),
    ];
    const labs = labUp?.platforms[p]?.map(
      (n) =>
        `${n} ${labUp.labs[n] ? `${fmtS(labUp.labs[n].seconds)}${labUp.labs[n].cold ? ' cold' : ''}` : 'not recorded'}`,
    );
    return `time to verdict, ${p}: ${parts.join('; ')}${labs?.length ? ` (labs: ${labs.join(', ')})` : ''}`;
  });
  // The evaluation brings every lab up once, one after another, then runs the suites.
  const allUp = labUp ? labsS([...new Set(Object.values(labUp.platforms).flat())]) : undefined;
  const serialS = solo ? entries(solo.runs).reduce((a, [, r]) => a + r.wallS, 0) : undefined;
  const whole = [
    ...(parallel ? [`all at once ${fmtS(parallel.wallS)} after lab up, ${withUp(parallel.wallS, allUp)}`] : []),
    ...(serialS !== undefined ? [`one after another ${fmtS(serialS)} after lab up, ${withUp(serialS, allUp)}`] : []),
  ];
  const slowest = solo ? Math.max(...entries(solo.runs).map(([, r]) => r.wallS)) : undefined;
  const ratios = [
    ...(parallel && serialS ? [`at once / one after another ${(parallel.wallS / serialS).toFixed(2)}×`] : []),
    ...(parallel && slowest
      ? [`at once / slowest platform alone ${(parallel.wallS / slowest).toFixed(2)}× (target ≤ 1.2)`]
      : []),
  ];
  lines.push(`time to verdict, whole evaluation: ${whole.join('; ')}${ratios.length ? ` (${ratios.join(', ')})` : ''}`);
  return lines;
}

function failures(b: Bench): { where: string; error: string }[] {
  const out = entries(b.platforms).flatMap(([p, x]) => (x.error ? [{ where: `${p} bench`, error: x.error }] : []));
  for (const [k, set] of suiteSets(b))
    for (const [p, r] of entries(set.runs)) if (r.error) out.push({ where: `${p} suites (${k})`, error: r.error });
  return out;
}

function accelerators(b: Bench): string[] {
  return entries(b.platforms).map(
    ([p, x]) =>
      `${p}: ${x.product}, ${x.instanceType === 'vm' ? 'VMs' : 'containers'}, evidence ${x.evidence}, accelerator ${accelName(x.accel)}${x.accelReason ? `: ${x.accelReason}` : ''}`,
  );
}

const machineLine = (b: Bench) =>
  `${b.machine.cores} cores (${b.machine.cpuModel}), ${b.machine.memGiB} GiB memory, kernel ${b.machine.kernel}, Node ${b.machine.node}, harness commit ${b.machine.harnessCommit.slice(0, 12)}`;

const settingsLine = (b: Bench) =>
  `${b.settings.reps} repetitions per sequence; scale steps ${b.settings.scales.join(', ') || 'none'} VMs at once; suites: ${b.settings.suites}`;

// ---- Markdown

const mdCell = (s: string) => s.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
const mdTable = (t: Table) => [
  `| ${t.head.map(mdCell).join(' | ')} |`,
  `|${t.head.map(() => '---|').join('')}`,
  ...t.rows.map((r) => `| ${r.map(mdCell).join(' | ')} |`),
];

/** The whole bench.md. */
export function benchMarkdown(b: Bench): string {
  const out: string[] = [`# vmconform bench ${b.runId}`, ''];
  const failed = failures(b);
  if (!b.complete)
    out.push(
      `> **${incompleteText}**${b.stoppedBy ? ` Stopped by: ${b.stoppedBy}.` : ''}${failed.length ? ' See "Parts that failed" below.' : ''}`,
      '',
    );
  out.push(
    `Run at ${b.at}, took ${fmtS(b.durationS)}. Machine: ${machineLine(b)}.`,
    '',
    ...accelerators(b).map((l) => `- ${mdCell(l)}`),
    '',
    `**${compareWarning}**`,
    '',
    `Settings: ${settingsLine(b)}.`,
    '',
  );
  if (failed.length)
    out.push('## Parts that failed', '', ...failed.map((f) => `- **${f.where}**: ${mdCell(f.error)}`), '');

  out.push('## Overhead (create, start, guest ready, graceful stop, delete)', '');
  const oh = overheadTable(b);
  out.push(...(oh ? [...mdTable(oh), ''] : ['No platform has an overhead measurement.', '']));
  const calls = overheadCalls(b);
  if (calls.length) out.push(...calls.map((n) => `- ${mdCell(n)}`), '');
  const notes = overheadNotes(b);
  if (notes.length) out.push('No overhead figures:', '', ...notes.map((n) => `- ${mdCell(n)}`), '');

  out.push('## Readiness phases, side by side', '');
  if (entries(b.platforms).length === 0) out.push('No platform was benchmarked.', '');
  else out.push(...mdTable(phasesTable(b)), '', phasesNote(b), '');

  out.push('## Scale (VMs in flight at once)', '');
  for (const [p, x] of entries(b.platforms)) {
    const top = largest(x);
    if (!top) continue;
    out.push(
      `### ${labelled(p, x)}`,
      '',
      ...mdTable({ head: scaleCols.map((c) => c.head), rows: x.scale.map((s) => scaleCols.map((c) => c.cell(s))) }),
      '',
      `Limit at ${top.vms} VMs: **${top.limit.kind}**: ${mdCell(top.limit.why)}`,
      '',
    );
  }
  const none = unscaled(b);
  if (none.length) out.push(`No scale steps: ${none.join(', ')}.`, '');

  out.push('## Suite time', '');
  const sets = suiteSets(b);
  if (sets.length === 0) out.push('The suites were not run.', '');
  for (const [k, set] of sets)
    out.push(
      `### ${k === 'parallel' ? 'Parallel' : 'Solo'} (${setTitle[k]}): ${fmtS(set.wallS)} wall`,
      '',
      `Machine: ${usageLine(set.usage)}.`,
      '',
      ...(set.evaluate
        ? [
            `The evaluate of all: ${fmtS(set.evaluate.cpuS)} CPU, ${Math.round(set.evaluate.peakRssMiB)} MiB peak RSS, exit ${set.evaluate.exitCode}.`,
            '',
          ]
        : []),
      ...mdTable(suiteTable(b, set, false)),
      '',
    );
  const svp = soloVsParallel(b);
  if (svp.length) out.push(svp[0] as string, '', ...svp.slice(1).map((l) => `- ${l}`), '');
  const ttv = timeToVerdict(b);
  if (ttv.length) out.push('### Time to verdict', '', ...ttv.map((l) => `- ${l}`), '');
  out.push('## Targets', '', ...benchTargets(b).map((l) => `- ${mdCell(l)}`), '');
  return `${out.join('\n').trimEnd()}\n`;
}

// ---- HTML

const htmlTable = (t: Table) =>
  `<table class="small"><tr>${t.head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${t.rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
    .join('')}</table>`;

function benchChart(b: Bench): string {
  const rows = entries(b.platforms).flatMap(([p, x]) => [
    ...(x.overhead
      ? [
          { name: `${p}: lifecycle, ${x.overhead.direct}`, s: x.overhead.directMs },
          { name: `${p}: lifecycle, vmconform`, s: x.overhead.vmconformMs },
        ]
      : []),
    ...(x.phases.guestReady ? [{ name: `${p}: guest ready`, s: x.phases.guestReady }] : []),
  ]);
  return timingChart('bench: whole lifecycle and guest ready per platform', rows);
}

/** The report's benchmark section: phases side by side, overhead, scale limits and suite time, all escaped. */
export function benchHtml(b: Bench): string {
  const failed = failures(b);
  const oh = overheadTable(b);
  const notes = overheadNotes(b);
  const scaled = entries(b.platforms).filter(([, x]) => x.scale.length > 0);
  const brief = scaleCols.filter((c) => c.brief);
  const none = unscaled(b);
  const sets = suiteSets(b);
  const svp = soloVsParallel(b);
  const ttv = timeToVerdict(b);
  const li = (xs: string[]) => `<ul class="small">${xs.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>`;
  return [
    `<h2 id="bench">Benchmark ${esc(b.runId)}</h2>`,
    b.complete
      ? ''
      : `<div class="banner"><b>${esc(incompleteText)}</b>${b.stoppedBy ? ` Stopped by: ${esc(b.stoppedBy)}.` : ''}</div>`,
    failed.length
      ? `<h3>Parts that failed</h3><ul>${failed.map((f) => `<li><b>${esc(f.where)}</b>: <pre>${esc(f.error)}</pre></li>`).join('')}</ul>`
      : '',
    `<p>${esc(b.at)}, took ${esc(fmtS(b.durationS))} · ${esc(machineLine(b))} · ${esc(settingsLine(b))}</p>`,
    li(accelerators(b)),
    `<div class="banner">${esc(compareWarning)}</div>`,
    '<h3>Readiness phases, side by side</h3>',
    entries(b.platforms).length ? htmlTable(phasesTable(b)) : '<p>No platform was benchmarked.</p>',
    `<p class="small muted">${esc(phasesNote(b))}</p>`,
    benchChart(b),
    '<h3>Harness overhead</h3>',
    oh ? htmlTable(oh) : '<p>No platform has an overhead measurement.</p>',
    notes.length ? `<p class="small">No overhead figures:</p>${li(notes)}` : '',
    '<h3>Scale</h3>',
    scaled.length
      ? htmlTable({
          head: ['platform', ...brief.map((c) => c.head)],
          rows: scaled.flatMap(([p, x]) => x.scale.map((s) => [labelled(p, x), ...brief.map((c) => c.cell(s))])),
        })
      : '',
    none.length ? `<p class="small muted">No scale steps: ${esc(none.join(', '))}.</p>` : '',
    '<h3>Suite time</h3>',
    sets.length ? '' : '<p>The suites were not run.</p>',
    ...sets.map(
      ([k, set]) =>
        `<p><b>${esc(k)}</b> (${esc(setTitle[k])}): ${esc(fmtS(set.wallS))} wall · <span class="small">${esc(usageLine(set.usage))}</span></p>${htmlTable(suiteTable(b, set, true))}`,
    ),
    svp.length ? `<p>${esc(svp[0])}</p>${li(svp.slice(1))}` : '',
    ttv.length ? `<h3>Time to verdict</h3>${li(ttv)}` : '',
    `<h3>Targets</h3>${li(benchTargets(b))}`,
  ].join('');
}
