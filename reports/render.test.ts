import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import type { Bundle } from '../evidence/bundle.js';
import { writeManifest } from '../evidence/manifest.js';
import { mergeRerun } from '../evidence/rerun.js';
import { tallyText } from '../evidence/tally.js';
import { allPass, makeBundle, type Spec } from '../evidence/testkit.js';
import { requirements } from '../requirements/registry.js';
import { timingChart } from './html-parts.js';
import { renderHtml } from './render-html.js';
import { renderJunit, renderMarkdown } from './render-text.js';
import { buildModel } from './report-model.js';
import { parseScoring } from './score.js';
import { bundlePaths, summaryLines, writeReport } from './write.js';

const ids = requirements.filter((r) => r.verification !== 'manual').map((r) => r.id);
const scoring = parseScoring('', 'defaults');
const model = (bundles: Bundle[], older: Bundle[] = []) =>
  buildModel({
    bundles: bundles.map((bundle, i) => ({ source: `b${i}.json`, bundle })),
    older: older.map((bundle, i) => ({ source: `old${i}.json`, bundle })),
    assessments: () => null,
    scoring,
    now: new Date('2026-11-25T01:00:00Z'),
  });
const libvirt = (over: Record<string, Spec> = {}) => makeBundle('libvirt', { ...allPass(ids), ...over });

describe('report rendering', () => {
  it("a rerun's report shows what each run said of a rerun requirement", () => {
    const a = libvirt({ 'DSK-01': { verdict: 'fail' } });
    const b = makeBundle('libvirt', { 'DSK-01': { verdict: 'pass' } }, { runId: '20261126t0000-beef' });
    const m = model([mergeRerun(a, b, 'out/a/libvirt/results.json')]);
    const line = `fail in run ${a.runId} → pass in run 20261126t0000-beef`;
    expect(renderMarkdown(m)).toContain(`- libvirt DSK-01: ${line}`);
    expect(renderHtml(m)).toContain(`rerun: ${line}`);
    expect(m.columns[0]?.score.cells['LC-01']?.history).toBe(`pass, carried from run ${a.runId}`);
  });

  it('HTML is self-contained: no external URL is loaded, every requirement has a cell and a drill-down', () => {
    const html = renderHtml(model([libvirt({ 'DSK-01': { verdict: 'fail', reason: '<script>alert(1)</script>' } })]));
    expect(html).not.toMatch(/<(link|img|iframe)\b/);
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).toContain("default-src 'none'");
    for (const r of requirements) expect(html).toContain(`id="d-libvirt-${r.id}"`);
    // Platform text is escaped, never markup.
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('<svg');
  });

  it('labels simulated and container-only evidence and incomplete runs', () => {
    const sim = makeBundle('proxmox', { ...allPass(ids), 'LC-01': { verdict: 'simulated', evidence: 'simulated' } });
    const cont = makeBundle('incus', allPass(ids), { complete: false });
    if (cont.facts) cont.facts.capabilities.evidence = 'container-only';
    const html = renderHtml(model([sim, cont]));
    expect(html).toContain('proxmox: simulated evidence.');
    expect(html).toContain('incus: container-only evidence.');
    expect(html).toContain('incus: incomplete run');
    expect(html).toContain('tag-sim">simulated</span>');
    const md = renderMarkdown(model([sim, cont]));
    expect(md).toContain('evidence: simulated');
    expect(md).toContain('(INCOMPLETE)');
  });

  it("the drill-down shows every check's proof kind; the matrix marks a guest claim proven by the API alone", () => {
    const b = libvirt();
    const lc2 = b.requirements['LC-02'];
    const lc3 = b.requirements['LC-03'];
    if (!lc2 || !lc3) throw new Error('fixture');
    lc2.checks = [{ name: 'memoryMiB', ok: true, proof: 'api', test: 't#2' }];
    lc3.checks = [
      { name: 'platform state', ok: true, proof: 'api', test: 't#3' },
      { name: 'memory (MiB): declared vs guest', ok: true, proof: 'guest', test: 't#3' },
    ];
    const m = model([b]);
    const html = renderHtml(m);
    const cell = (id: string) => html.slice(html.indexOf(`href="#d-libvirt-${id}"`)).split('</td>')[0];
    expect(cell('LC-02')).toContain('API only');
    expect(cell('LC-03')).not.toContain('API only');
    const drill = html.slice(html.indexOf('id="d-libvirt-LC-03"')).split('</section>')[0];
    expect(drill).toContain('<b>Proof needed:</b> api, guest · <b>proven by:</b> api, guest');
    expect(drill).toContain('<td>guest</td><td>memory (MiB): declared vs guest</td>');
    expect(renderMarkdown(m)).toMatch(/\| LC-02 \| MUST \| [^|]+ \| \*\*pass \(API only\)\*\* \|/);
  });

  it('shows lab facts: accelerator, versions, harness commit, leak check', () => {
    const html = renderHtml(model([libvirt()]));
    expect(html).toMatch(/TCG \(QEMU emulation, no KVM/);
    expect(html).toContain('libvirt 9.0.0');
    expect(html).toContain('commit 0123456789ab');
    expect(html).toContain('left after cleanup: 0');
  });

  it('merges one bundle per platform and refuses two of the same platform', () => {
    const m = model([libvirt(), makeBundle('incus', allPass(ids))]);
    expect(m.columns.map((c) => c.platform)).toEqual(['libvirt', 'incus']);
    expect(() => model([libvirt(), libvirt()])).toThrow(
      /b1\.json: a second bundle for libvirt \(first: b0\.json\).*--compare/,
    );
  });

  it('a waived verdict shows as waived, never as a pass, counted apart; an expired waiver stops applying and is named', () => {
    const b = libvirt({ 'DSK-01': { verdict: 'fail' }, 'NIC-01': { verdict: 'fail' } });
    const w = { platform: 'libvirt', reason: 'accepted risk', owner: 'ops', expires: '2026-12-31' } as const;
    const m = buildModel({
      bundles: [{ source: 'b0.json', bundle: b }],
      assessments: () => null,
      scoring,
      now: new Date('2026-12-07T00:00:00Z'),
      waivers: [
        { ...w, requirement: 'DSK-01' },
        { ...w, requirement: 'NIC-01', expires: '2026-12-01' },
      ],
    });
    const cells = m.columns[0]?.score.cells;
    expect([cells?.['DSK-01']?.verdict, cells?.['DSK-01']?.standing, cells?.['DSK-01']?.waiver?.expired]).toEqual([
      'fail',
      'inconclusive',
      false,
    ]);
    // Expired: the fail stands, and says so.
    expect([cells?.['NIC-01']?.standing, cells?.['NIC-01']?.waiver?.expired]).toEqual(['not-met', true]);
    expect(cells?.['NIC-01']?.reason).toContain('waiver expired on 2026-12-01 (owner ops), no longer applies');
    const md = renderMarkdown(m);
    expect(md).toMatch(/\| DSK-01 \|[^\n]*\| waived \(fail\) \|/);
    expect(md).toContain('- libvirt DSK-01 fail: waived until 2026-12-31 by ops: accepted risk');
    expect(md).toContain('- libvirt NIC-01 fail: waiver expired on 2026-12-01');
    expect(renderHtml(m)).toContain('waived: fail');
    expect(renderJunit(m)).toMatch(/DSK-01[^\n]*<skipped message="waived fail/);
    expect(renderJunit(m)).toMatch(/NIC-01[^\n]*<failure message="MUST fail/);
    const lines = summaryLines({ dir: '', html: 'r.html', markdown: '', junit: '', model: m, htmlBytes: 0 });
    expect(lines).toContain('libvirt: 1 waived (not passes): DSK-01 fail');
    expect(lines).toContain('libvirt: NIC-01 fail: waiver expired on 2026-12-01 (owner ops), no longer applies');
    expect(tallyText(b.requirements, new Set(['DSK-01']))).toMatch(/1 fail, 1 waived/);
  });

  it('a flaky requirement is never a pass: inconclusive, counted apart, and --compare lists it', () => {
    const older = libvirt();
    const newer = libvirt({ 'LC-03': { verdict: 'flaky' } });
    const m = model([newer], [older]);
    const cell = m.columns[0]?.score.cells['LC-03'];
    expect([cell?.verdict, cell?.standing]).toEqual(['flaky', 'inconclusive']);
    expect(m.comparisons[0]?.flaky).toEqual(['LC-03']);
    expect(m.comparisons[0]?.changes.map((c) => [c.id, c.direction])).toEqual([['LC-03', 'regressed']]);
    expect(renderMarkdown(m)).toContain(`- flaky in ${newer.runId} (passed only on a retry): LC-03`);
    expect(renderHtml(m)).toContain('Flaky in');
    expect(tallyText(newer.requirements)).toMatch(/, 1 flaky/);
    expect(renderJunit(m)).toMatch(/LC-03[^\n]*<skipped message="flaky/);
  });

  it('--compare lists what regressed and improved per requirement, and timing medians that moved', () => {
    const older = libvirt({ 'LC-03': { verdict: 'fail' } });
    const newer = libvirt({ 'DSK-01': { verdict: 'fail', reason: 'serial missing' } });
    newer.timings.operations.start = {
      accepted: older.timings.operations.start?.accepted as never,
      done: { n: 1, min: 900, median: 900, p90: 900, p95: 900, max: 900 },
    };
    const m = model([newer], [older]);
    const cmp = m.comparisons[0];
    expect(cmp?.changes.map((c) => [c.id, c.direction])).toEqual([
      ['LC-03', 'improved'],
      ['DSK-01', 'regressed'],
    ]);
    expect(cmp?.timings.map((t) => t.op)).toContain('start');
    expect(renderMarkdown(m)).toContain('- regressed: DSK-01 pass → fail: serial missing');
    expect(renderHtml(m)).toContain('Changes since the older run');
    expect(() => model([newer], [makeBundle('incus', allPass(ids))])).toThrow(
      /--compare old0\.json: it is a incus run/,
    );
  });

  it('JUnit XML parses; not met is a failure, harness error an error, inconclusive skipped; gates are a suite', () => {
    const m = model([
      libvirt({
        'DSK-01': { verdict: 'fail' },
        'OPS-04': { verdict: 'error' },
        'NIC-04': { verdict: 'prereq-missing' },
      }),
    ]);
    const doc = new XMLParser({ ignoreAttributes: false }).parse(renderJunit(m));
    const [reqs, gates] = doc.testsuites.testsuite;
    expect(reqs['@_name']).toBe('vmconform.libvirt.requirements');
    expect(Number(reqs['@_tests'])).toBe(requirements.length);
    expect(reqs['@_failures']).toBe('1');
    expect(reqs['@_errors']).toBe('1');
    // NIC-04 plus the manual-only requirements (COM-*), which have no assessment here.
    expect(Number(reqs['@_skipped'])).toBe(1 + requirements.filter((r) => r.verification === 'manual').length);
    const dsk = reqs.testcase.find((t: { '@_name': string }) => t['@_name'].startsWith('DSK-01'));
    expect(dsk.failure['@_message']).toMatch(/^MUST fail/);
    expect(gates.testcase).toHaveLength(5);
  });

  it('JUnit never shows a simulated or container-only result green: skipped, with the evidence as the reason', () => {
    const m = model([
      makeBundle('incus', {
        ...allPass(ids),
        'LC-01': { verdict: 'pass', evidence: 'container-only' },
        'LC-02': { verdict: 'fail', evidence: 'container-only' },
      }),
      makeBundle('proxmox', {
        'LC-01': { verdict: 'simulated', evidence: 'simulated', reason: 'Passed against a simulator.' },
        'LC-02': { verdict: 'pass', evidence: 'simulated' },
      }),
    ]);
    const doc = new XMLParser({ ignoreAttributes: false }).parse(renderJunit(m));
    const cases = (suite: string) =>
      doc.testsuites.testsuite.find((s: { '@_name': string }) => s['@_name'] === suite).testcase as {
        '@_name': string;
        skipped?: { '@_message': string };
      }[];
    const find = (suite: string, id: string) => cases(suite).find((t) => t['@_name'].startsWith(`${id} `));
    expect(find('vmconform.incus.requirements', 'LC-01')?.skipped?.['@_message']).toMatch(/container-only evidence/);
    expect(find('vmconform.incus.requirements', 'LC-02')?.skipped?.['@_message']).toMatch(/container-only evidence/);
    expect(find('vmconform.proxmox.requirements', 'LC-01')?.skipped?.['@_message']).toMatch(/^simulated.*simulator/);
    expect(find('vmconform.proxmox.requirements', 'LC-02')?.skipped?.['@_message']).toMatch(/simulated evidence/);
    // Not one proxmox case or gate is green: every result there is simulated.
    for (const suite of ['vmconform.proxmox.requirements', 'vmconform.proxmox.gate'])
      for (const t of cases(suite)) expect(Object.keys(t).filter((k) => !k.startsWith('@_'))).not.toEqual([]);
  });

  it('the timing chart draws one row per operation on a log scale', () => {
    const svg = timingChart('t', [
      { name: 'start', s: { n: 3, min: 10, median: 20, p90: 30, p95: 40, max: 50 } },
      { name: 'boot', s: { n: 3, min: 1000, median: 2000, p90: 3000, p95: 4000, max: 30000 } },
    ]);
    expect(svg.match(/<circle/g)).toHaveLength(2);
    expect(svg).toContain('10 ms');
    expect(svg).toContain('100.0 s');
  });
});

describe('vmconform report on files', () => {
  it('takes a run folder for every platform in it, writes html, md and junit into it', async () => {
    const dir = await mkdtemp('/tmp/vmconform-report-');
    for (const p of ['libvirt', 'incus'] as const) {
      await mkdir(join(dir, p));
      await writeFile(join(dir, p, 'results.json'), JSON.stringify(makeBundle(p, allPass(ids))));
    }
    expect(await bundlePaths(dir)).toEqual([join(dir, 'incus/results.json'), join(dir, 'libvirt/results.json')]);
    const r = await writeReport({ bundles: [dir] });
    expect(r.dir).toBe(dir);
    expect((await readFile(r.markdown, 'utf8')).split('\n')[0]).toBe('# vmconform evidence report');
    expect(r.htmlBytes).toBeGreaterThan(10_000);
    await expect(writeReport({ bundles: [join(dir, 'nope')] })).rejects.toThrow(/nope: no such bundle/);
  });

  it('marks, loudly, a bundle whose run folder fails verification; an intact one stays intact after a report', async () => {
    const dir = await mkdtemp('/tmp/vmconform-report-');
    for (const p of ['libvirt', 'incus'] as const) {
      await mkdir(join(dir, p));
      await writeFile(join(dir, p, 'results.json'), JSON.stringify(makeBundle(p, allPass(ids)), null, 2));
    }
    const first = await writeReport({ bundles: [dir] });
    expect(first.model.columns.map((c) => c.integrity?.state)).toEqual(['unsealed', 'unsealed']);
    await writeManifest(dir);
    // The report rewrites report.* in the run folder: that must not count against the bundles.
    await writeReport({ bundles: [dir] });
    const path = join(dir, 'libvirt', 'results.json');
    await writeFile(path, (await readFile(path, 'utf8')).replace('Domain started', 'Domain startes'));
    const r = await writeReport({ bundles: [dir] });
    expect(r.model.columns.map((c) => [c.platform, c.integrity?.state])).toEqual([
      ['incus', 'intact'],
      ['libvirt', 'failed'],
    ]);
    const lines = summaryLines(r);
    expect(lines.find((l) => l.startsWith('libvirt: EVIDENCE FAILED VERIFICATION'))).toContain(
      'changed: libvirt/results.json',
    );
    expect(lines.some((l) => l.startsWith('incus: EVIDENCE'))).toBe(false);
    expect(await readFile(r.html, 'utf8')).toContain('<b>libvirt: EVIDENCE FAILED VERIFICATION.</b>');
    expect(await readFile(r.markdown, 'utf8')).toContain('> **libvirt: EVIDENCE FAILED VERIFICATION.**');
    const doc = new XMLParser({ ignoreAttributes: false }).parse(await readFile(r.junit, 'utf8'));
    const suite = (n: string) => doc.testsuites.testsuite.find((s: { '@_name': string }) => s['@_name'] === n);
    expect(suite('vmconform.libvirt.integrity').testcase.error['@_message']).toMatch(/changed: libvirt\/results\.json/);
    expect(suite('vmconform.incus.integrity')['@_errors']).toBe('0');
  });

  it('--bench adds a benchmark section; a file that is not a bench.json is rejected with the field', async () => {
    const dir = await mkdtemp('/tmp/vmconform-report-');
    await mkdir(join(dir, 'libvirt'));
    await writeFile(join(dir, 'libvirt', 'results.json'), JSON.stringify(makeBundle('libvirt', allPass(ids))));
    const fixture = fileURLToPath(new URL('./examples/bench.json', import.meta.url));
    const bench = JSON.parse(await readFile(fixture, 'utf8'));
    const r = await writeReport({ bundles: [dir], bench: fixture });
    const html = await readFile(r.html, 'utf8');
    expect(html).toContain(`<h2 id="bench">Benchmark ${bench.runId}</h2>`);
    expect(html).toContain('<th>libvirt (real, TCG)</th><th>incus (container-only)</th>');
    expect(html).toContain('1.018 (within target)');
    // report.md carries the same benchmark, one heading level down.
    expect(await readFile(r.markdown, 'utf8')).toContain(`\n## vmconform bench ${bench.runId}`);
    await writeFile(join(dir, 'bad.json'), JSON.stringify({ ...bench, machine: { ...bench.machine, cores: 'two' } }));
    await expect(writeReport({ bundles: [dir], bench: join(dir, 'bad.json') })).rejects.toThrow(
      /bad\.json: machine\.cores/,
    );
  });
});
