/** `vmconform report`: bundles (one per platform) -> report.html, report.md, report.junit.xml. */
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { type Bundle, readBundle } from '../evidence/bundle.js';
import { ConfigInvalid } from '../evidence/errors.js';
import { manifestName, verificationLines, verifyRun } from '../evidence/manifest.js';
import { redactText } from '../evidence/redact.js';
import { tally } from '../evidence/tally.js';
import { loadWaivers } from '../requirements/waivers.js';
import { type AssessmentFile, defaultAssessmentsDir, loadAssessments } from './assessments.js';
import { readBench } from './bench.js';
import { renderHtml } from './render-html.js';
import { renderJunit, renderMarkdown } from './render-text.js';
import { buildModel, type Integrity, type ReportModel } from './report-model.js';
import { defaultScoringFile, isWaived, loadScoring } from './score.js';

/**
 * A bundle argument may be a results.json, a platform folder (out/<run>/<platform>) or a run folder
 * (out/<run>), which stands for every platform bundle in it.
 */
export async function bundlePaths(arg: string): Promise<string[]> {
  const p = resolve(arg);
  const s = await stat(p).catch(() => {
    throw new ConfigInvalid(`${arg}: no such bundle, platform folder or run folder`);
  });
  if (!s.isDirectory()) return [p];
  const direct = join(p, 'results.json');
  if (
    await stat(direct).then(
      () => true,
      () => false,
    )
  )
    return [direct];
  const found: string[] = [];
  for (const e of await readdir(p, { withFileTypes: true }))
    if (
      e.isDirectory() &&
      (await stat(join(p, e.name, 'results.json')).then(
        () => true,
        () => false,
      ))
    )
      found.push(join(p, e.name, 'results.json'));
  if (found.length === 0) throw new ConfigInvalid(`${arg}: no results.json in it or in its platform folders`);
  return found.sort();
}

/**
 * Checks a bundle's platform folder (out/<run>/<platform>) against the run's manifest and its
 * signature. Only that folder: the report files beside it are rewritten by every report.
 */
export async function integrityOf(bundlePath: string): Promise<Integrity> {
  const platformDir = dirname(bundlePath);
  const prefix = `${basename(platformDir)}/`;
  const v = await verifyRun(dirname(platformDir), { only: (f) => f.startsWith(prefix) });
  if (!v.sealed) return { state: 'unsealed', lines: [`not sealed: no ${manifestName} in its run folder`] };
  return { state: v.intact ? 'intact' : 'failed', lines: verificationLines(v) };
}

export interface WrittenReport {
  dir: string;
  html: string;
  markdown: string;
  junit: string;
  model: ReportModel;
  htmlBytes: number;
}

export async function writeReport(opts: {
  bundles: string[];
  out?: string;
  compare?: string[];
  bench?: string;
  assessments?: string;
  scoring?: string;
  /** A waiver file (requirements/waivers.ts). */
  waivers?: string;
}): Promise<WrittenReport> {
  if (opts.bundles.length === 0)
    throw new ConfigInvalid('give at least one evidence bundle (results.json or its folder)');
  const load = async (args: string[]) => {
    const out: { source: string; bundle: Bundle; integrity: Integrity }[] = [];
    for (const a of args)
      for (const p of await bundlePaths(a))
        out.push({ source: p, bundle: await readBundle(p), integrity: await integrityOf(p) });
    return out;
  };
  const bundles = await load(opts.bundles);
  const older = await load(opts.compare ?? []);
  const assessments = new Map<string, AssessmentFile | null>();
  for (const { bundle } of [...bundles, ...older])
    if (!assessments.has(bundle.platform))
      assessments.set(
        bundle.platform,
        await loadAssessments(bundle.platform, opts.assessments ?? defaultAssessmentsDir),
      );
  const model = buildModel({
    bundles,
    older,
    assessments: (p) => assessments.get(p) ?? null,
    scoring: await loadScoring(opts.scoring ?? defaultScoringFile),
    bench: opts.bench ? await readBench(opts.bench) : null,
    ...(opts.waivers ? { waivers: await loadWaivers(opts.waivers) } : {}),
  });
  // Default: the run folder above the first bundle's platform folder (out/<run>/).
  const first = bundles[0]?.source as string;
  const dir = resolve(opts.out ?? (basename(first) === 'results.json' ? dirname(dirname(first)) : dirname(first)));
  await mkdir(dir, { recursive: true });
  // Bundles are redacted when written; redacting again guards secrets registered in this process.
  const html = redactText(renderHtml(model));
  const paths = {
    html: join(dir, 'report.html'),
    markdown: join(dir, 'report.md'),
    junit: join(dir, 'report.junit.xml'),
  };
  await writeFile(paths.html, html);
  await writeFile(paths.markdown, redactText(renderMarkdown(model)));
  await writeFile(paths.junit, redactText(renderJunit(model)));
  return { dir, ...paths, model, htmlBytes: Buffer.byteLength(html) };
}

/** One line per platform for the terminal: the gate and where the report is. */
export function summaryLines(r: WrittenReport): string[] {
  return [
    ...r.model.columns.map(
      (c) =>
        `${c.platform}: ${c.score.gate} (${c.score.dimensions.map((d) => `${d.dimension} ${d.gate}`).join(', ')})${c.evidenceLabel !== 'real VMs' ? ` [${c.evidenceLabel} evidence]` : ''}`,
    ),
    // Waived verdicts are counted apart, and an expired waiver is named: it no longer applies.
    ...r.model.columns.flatMap((c) => {
      const cells = Object.values(c.score.cells);
      const waived = cells.filter(isWaived);
      const expired = cells.filter((x) => x.waiver?.expired);
      return [
        ...(waived.length
          ? [
              `${c.platform}: ${waived.length} waived (not passes): ${waived.map((x) => `${x.id} ${x.verdict}`).join(', ')}`,
            ]
          : []),
        ...expired.map(
          (x) =>
            `${c.platform}: ${x.id} ${x.verdict}: waiver expired on ${x.waiver?.expires} (owner ${x.waiver?.owner}), no longer applies`,
        ),
      ];
    }),
    ...r.model.columns
      .filter((c) => c.integrity?.state === 'failed')
      .map((c) => `${c.platform}: EVIDENCE FAILED VERIFICATION (${c.integrity?.lines.join('; ')}); ${c.source}`),
    `report: ${r.html} (${Math.round(r.htmlBytes / 1024)} KiB), ${r.markdown}, ${r.junit}`,
  ];
}

/** The same summary for machines (`--json`): per platform its gate, dimensions and verdict counts. */
export function summaryJson(r: WrittenReport) {
  return {
    platforms: r.model.columns.map((c) => ({
      platform: c.platform,
      runId: c.bundle.runId,
      bundle: c.source,
      harness: c.bundle.harness,
      complete: c.bundle.complete,
      evidence: c.evidenceLabel,
      gate: c.score.gate,
      dimensions: Object.fromEntries(c.score.dimensions.map((d) => [d.dimension, d.gate])),
      verdicts: Object.fromEntries(tally(c.bundle.requirements)),
      ...(c.integrity ? { integrity: c.integrity.state } : {}),
    })),
    report: { html: r.html, markdown: r.markdown, junit: r.junit },
  };
}
