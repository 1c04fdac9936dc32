/** The Markdown summary and the JUnit XML of a report, from the same model as the HTML. */
import { dimensions } from '../requirements/registry.js';
import { benchMarkdown } from './render-bench.js';
import { byDirection, type Column, proofMap, type ReportModel } from './report-model.js';
import { type Cell, isWaived } from './score.js';

const mdCell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function label(c: Cell, col: Column): string {
  const evidence = col.evidenceLabel;
  let s = c.verdict === 'manual' && c.assessment ? `manual: ${c.assessment.verdict}` : c.verdict;
  if (isWaived(c)) s = `waived (${s})`;
  if (c.assessment?.status === 'draft') s += ' (draft)';
  if (c.source === 'run' && proofMap(col, c.id).apiOnly) s += ' (API only)';
  if (c.evidence && c.evidence !== 'real') s += ` (${c.evidence})`;
  else if (c.source === 'run' && evidence === 'simulated') s += ' (simulated)';
  return c.standing === 'met' ? `**${s}**` : s;
}

export function renderMarkdown(model: ReportModel): string {
  const cols = model.columns;
  const out: string[] = ['# vmconform evidence report', '', `Generated ${model.generatedAt}.`, ''];
  for (const c of cols)
    if (c.integrity?.state === 'failed')
      out.push(
        `> **${c.platform}: EVIDENCE FAILED VERIFICATION.** Its run folder no longer matches the run's manifest; do not rely on these results. ${mdCell(c.integrity.lines.join('; '))}`,
        '',
      );
  for (const c of cols) {
    const i = c.bundle.facts?.info;
    out.push(
      `- **${c.platform}**: run ${c.bundle.runId}${c.bundle.complete ? '' : ' (INCOMPLETE)'}, ${i ? `${i.product} ${i.version}, guests on ${i.accel.toUpperCase()}` : 'platform not reached'}, evidence: ${c.evidenceLabel}, harness ${c.bundle.harness.version} (${c.bundle.harness.commit.slice(0, 12)}${c.bundle.harness.dirty ? ', uncommitted changes' : ''}), leaks left: ${c.bundle.leaks ? c.bundle.leaks.remaining.length : 'not recorded'}${c.integrity ? `, integrity: ${c.integrity.state === 'failed' ? '**FAILED VERIFICATION**' : c.integrity.state}` : ''}`,
    );
  }
  if (cols.some((c) => Object.values(c.score.cells).some((x) => x.assessment?.status === 'draft')))
    out.push('', 'Manual assessments marked draft count as inconclusive until Dataverket signs them.');
  out.push(
    '',
    '## Five-dimension summary',
    '',
    `| dimension | ${cols.map((c) => c.platform).join(' | ')} |`,
    `|---|${cols.map(() => '---|').join('')}`,
  );
  out.push(`| **overall gate** | ${cols.map((c) => `**${c.score.gate}**`).join(' | ')} |`);
  for (const d of dimensions)
    out.push(
      `| ${d.title} | ${cols
        .map((c) => {
          const s = c.score.dimensions.find((x) => x.dimension === d.id);
          return s
            ? `${s.gate}: ${mdCell(s.reasons.slice(0, 2).join('; '))}${s.reasons.length > 2 ? ` (+${s.reasons.length - 2})` : ''}`
            : '';
        })
        .join(' | ')} |`,
    );
  for (const cmp of model.comparisons) {
    out.push('', `## Changes on ${cmp.platform}: ${cmp.olderRun} → ${cmp.newerRun}`, '');
    if (cmp.changes.length === 0) out.push('No requirement changed verdict.');
    for (const ch of byDirection(cmp.changes))
      out.push(
        `- ${ch.direction}: ${ch.id} ${ch.from.verdict} → ${ch.to.verdict}${ch.to.reason ? `: ${mdCell(ch.to.reason)}` : ''}`,
      );
    for (const t of cmp.timings) out.push(`- timing: ${t.op} median ${t.from} ms → ${t.to} ms`);
    if (cmp.flaky.length > 0) out.push(`- flaky in ${cmp.newerRun} (passed only on a retry): ${cmp.flaky.join(' ')}`);
  }
  out.push(
    '',
    '## Requirements',
    '',
    `| ID | level | requirement | ${cols.map((c) => c.platform).join(' | ')} |`,
    `|---|---|---|${cols.map(() => '---|').join('')}`,
  );
  for (const r of model.requirements)
    out.push(
      `| ${r.id} | ${r.level} | ${mdCell(r.title)} | ${cols.map((c) => label(c.score.cells[r.id] as Cell, c)).join(' | ')} |`,
    );
  // A rerun's bundle: what each rerun requirement said before and says now (nothing replaced silently).
  const reruns = cols.flatMap((c) =>
    Object.values(c.score.cells).flatMap((cell) =>
      cell.history && c.bundle.requirements[cell.id]?.previous ? [`- ${c.platform} ${cell.id}: ${cell.history}`] : [],
    ),
  );
  if (reruns.length > 0) {
    const of = cols.flatMap((c) => (c.bundle.rerunOf ? [`${c.platform}: rerun of ${c.bundle.rerunOf.runId}`] : []));
    out.push('', '## Rerun', '', `${of.join('; ')}. Requirements run again, with what each run said:`, '', ...reruns);
  }
  // Accepted risk, apart from passes and failures; an expired waiver is named, as it no longer applies.
  const waivers = cols.flatMap((c) =>
    Object.values(c.score.cells).flatMap((cell) =>
      cell.waiver ? [`- ${c.platform} ${cell.id} ${cell.verdict}: ${mdCell(cell.waiver.text)}`] : [],
    ),
  );
  if (waivers.length > 0) out.push('', '## Waivers', '', ...waivers);
  out.push('', '## Reasons for everything not met', '');
  for (const c of cols)
    for (const cell of Object.values(c.score.cells))
      if (cell.standing !== 'met')
        out.push(
          `- ${c.platform} ${cell.id} ${isWaived(cell) ? `waived ${cell.verdict}` : cell.verdict}${cell.reasonCode ? ` [${cell.reasonCode}]` : ''}: ${mdCell(cell.reason ?? '')}${isWaived(cell) ? ` (${mdCell(cell.waiver?.text ?? '')})` : ''}`,
        );
  // The bench's own summary, one heading level down.
  if (model.bench) out.push('', benchMarkdown(model.bench).replace(/^#/gm, '##'));
  out.push('');
  return out.join('\n');
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point (XML 1.0 forbids them).
const controlChars = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g;
const xml = (s: unknown) =>
  String(s ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    // XML 1.0 forbids most control characters, which console output can carry.
    .replace(controlChars, '');

/**
 * JUnit: per platform one suite of requirements (not met = failure, harness error = error,
 * inconclusive = skipped with its reason) and one suite of the five dimension gates.
 */
export function renderJunit(model: ReportModel): string {
  const suites: string[] = [];
  for (const c of model.columns) {
    const cases = model.requirements.map((r) => {
      const cell = c.score.cells[r.id] as Cell;
      const name = `${r.id} ${r.title}`;
      const msg = `${isWaived(cell) ? 'waived ' : ''}${cell.verdict}${cell.reasonCode ? ` [${cell.reasonCode}]` : ''}: ${cell.reason ?? ''}${cell.waiver ? ` (${cell.waiver.text})` : ''}`;
      const body =
        cell.verdict === 'error' && !isWaived(cell)
          ? `<error message="${xml(msg)}"/>`
          : cell.standing === 'not-met' || cell.standing === 'partial'
            ? `<failure message="${xml(`${r.level} ${msg}`)}"/>`
            : cell.standing === 'inconclusive'
              ? `<skipped message="${xml(msg)}"/>`
              : '';
      const secs =
        c.bundle.tests.filter((t) => t.requirements.includes(r.id)).reduce((s, t) => s + t.durationMs, 0) / 1000;
      return `    <testcase classname="vmconform.${xml(c.platform)}.${xml(r.dimension)}" name="${xml(name)}" time="${secs.toFixed(3)}">${body}</testcase>`;
    });
    const count = (p: (x: string) => boolean) => cases.filter(p).length;
    suites.push(
      `  <testsuite name="vmconform.${xml(c.platform)}.requirements" tests="${cases.length}" failures="${count((x) => x.includes('<failure'))}" errors="${count((x) => x.includes('<error'))}" skipped="${count((x) => x.includes('<skipped'))}" timestamp="${xml(c.bundle.startedAt)}">\n${cases.join('\n')}\n  </testsuite>`,
    );
    const gates = c.score.dimensions.map(
      (d) =>
        `    <testcase classname="vmconform.${xml(c.platform)}.gate" name="${xml(d.title)}">${d.gate === 'not acceptable' ? `<failure message="${xml(d.reasons.join('; '))}"/>` : d.gate === 'inconclusive' ? `<skipped message="${xml(d.reasons.join('; '))}"/>` : ''}</testcase>`,
    );
    // A bundle that fails verification is an error a CI dashboard shows, whatever its verdicts say.
    if (c.integrity)
      suites.push(
        `  <testsuite name="vmconform.${xml(c.platform)}.integrity" tests="1" failures="0" errors="${c.integrity.state === 'failed' ? 1 : 0}" skipped="${c.integrity.state === 'unsealed' ? 1 : 0}">\n    <testcase classname="vmconform.${xml(c.platform)}.integrity" name="run folder matches its manifest">${c.integrity.state === 'failed' ? `<error message="${xml(`EVIDENCE FAILED VERIFICATION: ${c.integrity.lines.join('; ')}`)}"/>` : c.integrity.state === 'unsealed' ? `<skipped message="${xml(c.integrity.lines.join('; '))}"/>` : ''}</testcase>\n  </testsuite>`,
      );
    suites.push(
      `  <testsuite name="vmconform.${xml(c.platform)}.gate" tests="${gates.length}" failures="${gates.filter((x) => x.includes('<failure')).length}" errors="0" skipped="${gates.filter((x) => x.includes('<skipped')).length}">\n${gates.join('\n')}\n  </testsuite>`,
    );
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="vmconform">\n${suites.join('\n')}\n</testsuites>\n`;
}
