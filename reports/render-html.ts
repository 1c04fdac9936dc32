/**
 * The self-contained HTML report: inline CSS and SVG, no external resources (works from file://).
 * Drill-down uses :target (no script needed); a few lines of script only filter the matrix.
 */

import type { Bundle, BundleTest, Stats } from '../evidence/bundle.js';
import { type Dimension, dimensions, type Requirement } from '../requirements/registry.js';
import { cut, esc, timingChart } from './html-parts.js';
import { benchHtml } from './render-bench.js';
import { byDirection, type Column, fmtMs, proofMap, type ReportModel } from './report-model.js';
import { type Cell, type Gate, isWaived } from './score.js';

const show = (v: unknown) => (v === undefined ? '' : cut(typeof v === 'string' ? v : JSON.stringify(v), 300));
const anchor = (platform: string, id: string) => `d-${platform}-${id}`;
const gateClass = (g: Gate) => (g === 'acceptable' ? 'ok' : g === 'not acceptable' ? 'bad' : 'open');

/** Transcript excerpt limits: the bundle keeps everything; the report shows enough to follow a failure. */
const excerpt = { entriesPerTest: 8, responseChars: 400, checks: 40 };

const css = `
:root{--ok:#1a7f37;--bad:#cf222e;--open:#9a6700;--grey:#6e7781;--part:#bc4c00;--man:#8250df;--bg:#fff;--line:#d0d7de}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1400px;padding:16px 24px;color:#1f2328;background:var(--bg)}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}h3{font-size:15px;margin:16px 0 6px}
table{border-collapse:collapse}td,th{border:1px solid var(--line);padding:4px 8px;vertical-align:top;text-align:left}th{background:#f6f8fa}
.muted{color:var(--grey)}.small{font-size:12px}
.badge{display:inline-block;border-radius:10px;padding:1px 8px;font-weight:600;color:#fff;white-space:nowrap}
.ok{background:var(--ok)}.bad{background:var(--bad)}.open{background:var(--open)}
.gate{font-size:16px;padding:3px 12px}
.v{display:block;text-decoration:none;color:#fff;border-radius:4px;padding:2px 6px;font-weight:600;text-align:center;white-space:nowrap}
.v-pass{background:var(--ok)}.v-fail,.v-error{background:var(--bad)}.v-unsupported{background:#a40e26}.v-partial{background:var(--part)}
.v-not-implemented,.v-prereq-missing{background:var(--grey)}.v-simulated{background:#57606a;background-image:repeating-linear-gradient(45deg,transparent 0 6px,rgba(255,255,255,.25) 6px 12px)}
.v-manual{background:var(--man)}.v-waived{background:var(--grey);outline:2px solid var(--bad);outline-offset:-2px}.v-flaky{background:var(--part);background-image:repeating-linear-gradient(-45deg,transparent 0 6px,rgba(255,255,255,.3) 6px 12px)}.v.incl{outline:3px dashed var(--open);outline-offset:-3px}
.tag{display:inline-block;font-size:11px;border:1px solid currentColor;border-radius:3px;padding:0 4px;margin-left:4px;font-weight:600}
.tag-sim{color:#57606a}.tag-bad{color:var(--bad)}.tag-cont{color:var(--open)}.tag-draft{color:var(--man)}
.banner{border-left:6px solid var(--open);background:#fff8c5;padding:6px 10px;margin:8px 0}.banner.tampered{border-left-color:var(--bad);background:#ffebe9}
.matrix td.id{font-family:ui-monospace,monospace;white-space:nowrap}.matrix tr.dim th{background:#eaeef2}
.detail{display:none;border:2px solid #0969da;border-radius:6px;padding:8px 14px;margin:12px 0;background:#f6f8fa}
.detail:target{display:block}.detail .v{display:inline-block;min-width:80px}
pre{white-space:pre-wrap;word-break:break-all;background:#fff;border:1px solid var(--line);padding:6px;margin:2px 0;font-size:12px;max-height:240px;overflow:auto}
.facts td:first-child{font-weight:600}
.filter{margin:6px 0}.hide{display:none}
svg text{font:11px system-ui,sans-serif;fill:#1f2328}
`;

function verdictCell(col: Column, c: Cell): string {
  const tags: string[] = [];
  if (c.evidence === 'simulated' || (c.source === 'run' && col.evidenceLabel === 'simulated'))
    tags.push('<span class="tag tag-sim">simulated</span>');
  else if (c.evidence === 'container-only') tags.push('<span class="tag tag-cont">container-only</span>');
  if (c.assessment?.status === 'draft') tags.push('<span class="tag tag-draft">draft</span>');
  if (c.history)
    tags.push(
      `<span class="tag" title="${esc(c.history)}">${c.history.includes('→') ? 'rerun' : 'earlier run'}</span>`,
    );
  if (c.waiver?.expired) tags.push(`<span class="tag tag-bad" title="${esc(c.waiver.text)}">waiver expired</span>`);
  // A claim the guest could observe, proven by the platform's API alone: the reader should not take it as seen.
  if (c.source === 'run' && proofMap(col, c.id).apiOnly)
    tags.push('<span class="tag tag-bad" title="needs guest proof; its checks read the API only">API only</span>');
  const verdict = c.verdict === 'manual' && c.assessment ? `manual: ${c.assessment.verdict}` : c.verdict;
  const label = isWaived(c) ? `waived: ${verdict}` : verdict;
  const incl = c.standing === 'inconclusive' && (c.verdict === 'pass' || c.verdict === 'manual') ? ' incl' : '';
  return `<a class="v v-${isWaived(c) ? 'waived' : esc(c.verdict)}${incl}" href="#${anchor(col.platform, c.id)}" title="${esc(c.waiver ? `${c.waiver.text}. ${c.reason ?? ''}` : (c.reason ?? c.verdict))}">${esc(label)}</a>${tags.join('')}`;
}

function statsRow(name: string, s: Stats): string {
  return `<tr><td>${esc(name)}</td><td>${s.n}</td><td>${fmtMs(s.min)}</td><td>${fmtMs(s.median)}</td><td>${fmtMs(s.p90)}</td><td>${fmtMs(s.p95)}</td><td>${fmtMs(s.max)}</td></tr>`;
}

function facts(col: Column): string {
  const b = col.bundle;
  const info = b.facts?.info;
  const accel = info?.accel ?? 'unknown';
  const leaks = b.leaks;
  const rows: [string, string][] = [
    [
      'platform',
      info ? `${info.product} ${info.version}${info.apiVersion ? ` (API ${info.apiVersion})` : ''}` : 'not reached',
    ],
    ['hypervisor', info?.hypervisor ?? ''],
    [
      'guests ran on',
      `${accel.toUpperCase()}${accel === 'tcg' ? ' (QEMU emulation, no KVM: timings are slower than production)' : ''}`,
    ],
    ['evidence', col.evidenceLabel],
    ['endpoint', info?.endpoint ?? ''],
    ['hosts', (b.facts?.hosts ?? []).map((h) => `${h.name} (${h.id})`).join(', ')],
    ['run', `${b.runId}, ${b.startedAt} → ${b.endedAt ?? 'not ended'}${b.complete ? '' : ' — INCOMPLETE'}`],
    [
      'harness',
      `vmconform ${b.harness.version}, commit ${b.harness.commit.slice(0, 12)}${b.harness.dirty ? ' with uncommitted changes' : ''}`,
    ],
    ['lab config hash', b.configHash ?? 'unknown'],
    [
      'leak check',
      leaks
        ? `before: ${leaks.before.length} objects of other runs; after: ${leaks.after.length} of this run; left after cleanup: ${leaks.remaining.length}`
        : 'not recorded (run ended before cleanup)',
    ],
    ['bundle', col.source],
  ];
  return `<table class="facts">${rows.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join('')}</table>`;
}

function testBlock(t: BundleTest): string {
  const timings = t.timings.length
    ? `<table class="small"><tr><th>timing</th><th>kind</th><th>accepted</th><th>done</th><th>handle</th></tr>${t.timings
        .map(
          (tm) =>
            `<tr><td>${esc(tm.op)}</td><td>${esc(tm.kind)}</td><td>${fmtMs(tm.acceptedMs)}</td><td>${fmtMs(tm.doneMs)}</td><td>${esc(tm.handle ? `${tm.handle.kind}${tm.handle.id ? ` ${tm.handle.id}` : ''}` : '')}</td></tr>`,
        )
        .join('')}</table>`
    : '';
  const timeline = t.timeline.length
    ? `<table class="small"><tr><th>at</th><th>VM</th><th>call</th><th>result</th><th>power</th></tr>${t.timeline
        .map(
          (e) =>
            `<tr><td>${esc(e.at.slice(11, 23))}</td><td>${esc(e.vm)}</td><td>${esc(e.op)}</td><td>${e.ok ? 'ok' : esc(`error: ${e.detail ?? ''}`)}</td><td>${esc(e.power ?? '')}</td></tr>`,
        )
        .join('')}</table>`
    : '';
  const shown = t.transcript.slice(0, excerpt.entriesPerTest);
  const transcript = shown
    .map(
      (e) =>
        `<div class="small">#${e.seq} ${esc(e.kind)} ${e.ok ? '' : '<b>FAILED</b> '}${fmtMs(e.durationMs)}${e.taskId ? ` task ${esc(e.taskId)}` : ''}</div><pre>${esc(e.request)}\n→ ${esc(cut(e.error ?? e.response, excerpt.responseChars))}</pre>`,
    )
    .join('');
  const more =
    t.transcript.length > shown.length
      ? `<div class="muted small">${t.transcript.length - shown.length} more exchanges in the bundle (tests[id=${esc(t.id)}].transcript)</div>`
      : '';
  return `<h4>${esc(t.title)} <span class="muted small">${esc(t.id)} · ${esc(t.state)} · ${fmtMs(t.durationMs)} · evidence ${esc(t.evidence)}</span></h4>${timings}${timeline}${transcript ? `<details><summary>transcript excerpt (${t.transcript.length} exchanges)</summary>${transcript}${more}</details>` : ''}`;
}

/** What the requirement's pass must be proven by, and what its checks used (api, guest, event, host). */
function proofLine(col: Column, id: string): string {
  const p = proofMap(col, id);
  if (p.needs.length === 0 && !p.recorded) return '';
  const proven = p.recorded ? p.proven.join(', ') || 'nothing' : 'not recorded (an older bundle)';
  return `<p class="small"><b>Proof needed:</b> ${esc(p.needs.join(', ') || 'none')} · <b>proven by:</b> ${esc(proven)}${p.apiOnly ? ' · <b>guest-observable claims proven by the API alone</b>' : ''}</p>`;
}

function detail(col: Column, r: Requirement): string {
  const c = col.score.cells[r.id] as Cell;
  const run = col.bundle.requirements[r.id];
  const tests = col.bundle.tests.filter((t) => t.requirements.includes(r.id));
  const checks = run?.checks ?? [];
  const checkRows = checks
    .slice(0, excerpt.checks)
    .map(
      (k) =>
        `<tr><td>${k.ok ? '✔' : k.status ? esc(k.status) : '✘'}</td><td>${esc(k.proof ?? '?')}</td><td>${esc(k.name)}</td><td>${esc(show(k.expected))}</td><td>${esc(show(k.actual))}</td><td>${esc(k.detail ?? '')}</td></tr>`,
    )
    .join('');
  const a = c.assessment;
  const assessment = a
    ? `<h3>Manual assessment (${esc(a.status)}${a.signedBy ? `, signed by ${esc(a.signedBy)}` : ''})</h3><p>${esc(a.assessor)}, ${esc(a.date)}: <b>${esc(a.verdict)}</b>. ${esc(a.summary)}</p><ul>${a.sources.map((s) => `<li><a href="${esc(s.url)}" rel="noreferrer">${esc(s.title)}</a> <span class="muted small">${esc(s.url)}</span></li>`).join('')}</ul>`
    : '';
  return `<section class="detail" id="${anchor(col.platform, r.id)}"><h3>${esc(col.platform)} · ${esc(r.id)} ${esc(r.title)} <span class="muted">(${r.level}, ${esc(r.dimension)}, ${esc(r.verification)})</span></h3>
<p><b>Evidence required:</b> ${esc(r.evidence)}<br><span class="muted small">ADR ${esc(r.adrSection)}: “${esc(r.adrClause)}”</span></p>
<p>${verdictCell(col, c)} standing <b>${esc(c.standing)}</b>${c.reasonCode ? ` · reason code <code>${esc(c.reasonCode)}</code>` : ''} · from ${esc(c.source)}</p>
${c.history ? `<p>rerun: ${esc(c.history)}</p>` : ''}${c.waiver ? `<p><b>${esc(c.waiver.text)}</b></p>` : ''}${c.reason ? `<p>${esc(c.reason)}</p>` : ''}${assessment}
${proofLine(col, r.id)}${checks.length ? `<h3>Checks (${checks.length})</h3><table class="small"><tr><th></th><th>proof</th><th>check</th><th>expected</th><th>actual</th><th>detail</th></tr>${checkRows}</table>${checks.length > excerpt.checks ? `<div class="muted small">${checks.length - excerpt.checks} more in the bundle</div>` : ''}` : ''}
${tests.map(testBlock).join('')}
<p><a href="#matrix">back to the matrix</a></p></section>`;
}

function dimensionSummary(model: ReportModel): string {
  const head = model.columns.map((c) => `<th>${esc(c.platform)}</th>`).join('');
  const overall = model.columns
    .map((c) => `<td><span class="badge gate ${gateClass(c.score.gate)}">${esc(c.score.gate)}</span></td>`)
    .join('');
  const rows = dimensions.map(
    (d) =>
      `<tr><th>${esc(d.title)}</th>${model.columns
        .map((c) => {
          const s = c.score.dimensions.find((x) => x.dimension === d.id);
          if (!s) return '<td></td>';
          const line = (x: string) => esc(cut(x, 160));
          const rest = s.reasons.slice(4);
          return `<td><span class="badge ${gateClass(s.gate)}">${esc(s.gate)}</span><div class="small">${s.reasons.slice(0, 4).map(line).join('<br>')}${rest.length ? `<details><summary class="muted">${rest.length} more</summary>${rest.map(line).join('<br>')}</details>` : ''}</div></td>`;
        })
        .join('')}</tr>`,
  );
  return `<table id="summary" class="summary"><tr><th>dimension</th>${head}</tr><tr><th>Overall gate (all five acceptable)</th>${overall}</tr>${rows.join('')}</table>`;
}

function matrix(model: ReportModel): string {
  const head = model.columns
    .map(
      (c) =>
        `<th>${esc(c.platform)}${c.evidenceLabel !== 'real VMs' ? `<br><span class="tag tag-sim">${esc(c.evidenceLabel)}</span>` : ''}${c.integrity?.state === 'failed' ? '<br><span class="tag tag-bad">FAILED VERIFICATION</span>' : ''}</th>`,
    )
    .join('');
  const body: string[] = [];
  for (const d of dimensions) {
    body.push(`<tr class="dim"><th colspan="${3 + model.columns.length}">${esc(d.title)}</th></tr>`);
    for (const r of model.requirements.filter((x) => x.dimension === (d.id as Dimension))) {
      const cells = model.columns.map((c) => c.score.cells[r.id] as Cell);
      const allMet = cells.every((c) => c.standing === 'met');
      body.push(
        `<tr data-met="${allMet}"><td class="id">${esc(r.id)}</td><td>${esc(r.level)}</td><td>${esc(r.title)}</td>${model.columns
          .map((c, i) => `<td>${verdictCell(c, cells[i] as Cell)}</td>`)
          .join('')}</tr>`,
      );
    }
  }
  return `<div class="filter"><label><input type="checkbox" id="only-open"> show only requirements not met everywhere</label></div><table id="matrix" class="matrix"><tr><th>ID</th><th>level</th><th>requirement</th>${head}</tr>${body.join('')}</table>`;
}

function comparisons(model: ReportModel): string {
  if (model.comparisons.length === 0) return '';
  return `<h2 id="compare">Changes since the older run</h2>${model.comparisons
    .map((cmp) => {
      const rows = byDirection(cmp.changes).map(
        (ch) =>
          `<tr><td><span class="badge ${ch.direction === 'regressed' ? 'bad' : ch.direction === 'improved' ? 'ok' : 'open'}">${ch.direction}</span></td><td class="id">${esc(ch.id)}</td><td>${esc(ch.from.verdict)} (${esc(ch.from.standing)})</td><td>${esc(ch.to.verdict)} (${esc(ch.to.standing)})</td><td class="small">${esc(cut(ch.to.reason ?? '', 200))}</td></tr>`,
      );
      const t = cmp.timings.map(
        (x) =>
          `<tr><td>${esc(x.op)}</td><td>${fmtMs(x.from)}</td><td>${fmtMs(x.to)}</td><td>${x.to > x.from ? '+' : ''}${Math.round(((x.to - x.from) / x.from) * 100)}%</td></tr>`,
      );
      return `<h3>${esc(cmp.platform)}: ${esc(cmp.olderRun)} → ${esc(cmp.newerRun)}</h3>${
        rows.length
          ? `<table><tr><th></th><th>ID</th><th>before</th><th>now</th><th>reason now</th></tr>${rows.join('')}</table>`
          : '<p>No requirement changed verdict.</p>'
      }${cmp.flaky.length ? `<p>Flaky in ${esc(cmp.newerRun)} (passed only on a retry): <b>${esc(cmp.flaky.join(' '))}</b></p>` : ''}${t.length ? `<h4>Medians that moved by 20% or more</h4><table><tr><th>operation</th><th>before</th><th>now</th><th>change</th></tr>${t.join('')}</table>` : ''}`;
    })
    .join('')}`;
}

function timingsSection(b: Bundle, platform: string): string {
  const ops = Object.entries(b.timings.operations);
  const phases = Object.entries(b.timings.phases);
  const head = '<tr><th></th><th>n</th><th>min</th><th>median</th><th>p90</th><th>p95</th><th>max</th></tr>';
  return `<h3>${esc(platform)}</h3>${timingChart(
    `${platform}: operations, call to done`,
    ops.map(([name, s]) => ({ name, s: s.done })),
  )}${timingChart(
    `${platform}: readiness phases`,
    phases.map(([name, s]) => ({ name, s })),
  )}
<details><summary>timing tables</summary><table class="small">${head}${ops.map(([n, s]) => statsRow(`${n} (accepted)`, s.accepted) + statsRow(`${n} (done)`, s.done)).join('')}${phases.map(([n, s]) => statsRow(`${n} (phase)`, s)).join('')}</table></details>`;
}

function timelines(b: Bundle): string {
  const vms = Object.entries(b.timeline);
  if (vms.length === 0) return '';
  return `<details><summary>state timeline of ${vms.length} VMs</summary>${vms
    .map(
      ([vm, es]) =>
        `<div class="small"><b>${esc(vm)}</b>: ${es.map((e) => `${esc(e.at.slice(11, 19))} ${esc(e.op)}${e.power ? `→${esc(e.power)}` : ''}${e.ok ? '' : ' ✘'}`).join(' · ')}</div>`,
    )
    .join('')}</details>`;
}

const script = `document.getElementById('only-open').addEventListener('change',function(e){var on=e.target.checked;document.querySelectorAll('#matrix tr[data-met]').forEach(function(r){r.classList.toggle('hide',on&&r.dataset.met==='true')})});`;

export function renderHtml(model: ReportModel): string {
  const labels = model.columns
    .filter((c) => c.evidenceLabel !== 'real VMs')
    .map(
      (c) =>
        `<div class="banner"><b>${esc(c.platform)}: ${esc(c.evidenceLabel)} evidence.</b> It proves the adapter and API path, not the platform's VMs; its passes count as inconclusive in the gate.</div>`,
    );
  const tampered = model.columns
    .filter((c) => c.integrity?.state === 'failed')
    .map(
      (c) =>
        `<div class="banner tampered"><b>${esc(c.platform)}: EVIDENCE FAILED VERIFICATION.</b> Its run folder no longer matches the run's manifest; do not rely on these results.<ul>${(c.integrity?.lines ?? []).map((l) => `<li>${esc(l)}</li>`).join('')}</ul></div>`,
    );
  const incomplete = model.columns
    .filter((c) => !c.bundle.complete)
    .map(
      (c) =>
        `<div class="banner"><b>${esc(c.platform)}: incomplete run</b> (interrupted or still running): only what ran is shown.</div>`,
    );
  const drafts = model.columns.some((c) => Object.values(c.score.cells).some((x) => x.assessment?.status === 'draft'))
    ? '<div class="banner">Manual assessments marked <b>draft</b> were written by developers; they count as inconclusive until Dataverket signs them.</div>'
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>vmconform report: ${esc(model.columns.map((c) => c.platform).join(', '))}</title><style>${css}</style></head><body>
<h1>vmconform evidence report</h1>
<div class="muted">Generated ${esc(model.generatedAt)} from ${model.columns.length} bundle(s): ${model.columns.map((c) => `${esc(c.platform)} run ${esc(c.bundle.runId)}`).join(', ')}. SHOULD threshold ${Math.round(model.scoring.threshold * 100)}%.</div>
${tampered.join('')}${labels.join('')}${incomplete.join('')}${drafts}
<h2>Five-dimension summary</h2>${dimensionSummary(model)}
${comparisons(model)}
<h2>Requirements × platforms</h2><p class="small muted">Click a verdict for its checks, reasons, timings and transcript. Dashed outline: counted as inconclusive (draft assessment, container-only or simulated evidence).</p>${matrix(model)}
${model.columns.map((c) => model.requirements.map((r) => detail(c, r)).join('')).join('')}
<h2>Lab facts</h2>${model.columns.map((c) => `<h3>${esc(c.platform)}</h3>${facts(c)}${timelines(c.bundle)}`).join('')}
<h2>Timings</h2>${model.columns.map((c) => timingsSection(c.bundle, c.platform)).join('')}
${model.bench ? benchHtml(model.bench) : ''}
<script>${script}</script></body></html>
`;
}
