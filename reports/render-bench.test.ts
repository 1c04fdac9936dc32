import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type Bench, baselineOf, benchPhases, parseBench, readBench } from './bench.js';
import { benchTargets } from './bench-targets.js';
import { benchHtml, benchMarkdown, benchPhaseNames } from './render-bench.js';

const fixtureFile = fileURLToPath(new URL('./examples/bench.json', import.meta.url));
const raw = () => JSON.parse(readFileSync(fixtureFile, 'utf8')) as Record<string, unknown>;
const fixture = () => parseBench(raw(), 'bench.json');

/** The Markdown table whose header starts with `first`, as rows of trimmed cells. */
function mdTable(md: string, first: string): string[][] {
  const lines = md.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`| ${first} |`));
  expect(start, `table starting with "${first}"`).toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  for (const l of lines.slice(start)) {
    if (!l.startsWith('|')) break;
    rows.push(
      l
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((c) => c.trim()),
    );
  }
  return rows.filter((r) => !r.every((c) => c === '---'));
}

describe('bench.json v2 fixture', () => {
  it('parses with the schema and covers real, container-only and simulated platforms and both suite modes', async () => {
    const b = await readBench(fixtureFile);
    expect(Object.keys(b.platforms)).toEqual(['libvirt', 'incus', 'proxmox', 'openstack']);
    expect(b.platforms.libvirt?.accel).toBe('tcg');
    expect(b.platforms.incus?.evidence).toBe('container-only');
    expect(b.platforms.proxmox?.overhead).toBeUndefined();
    expect(b.platforms.proxmox?.overheadNote).toMatch(/simulat/);
    expect(Object.keys(b.suites)).toEqual(['parallel', 'solo']);
  });

  it('a bad field is rejected, naming its path', () => {
    const bad = raw() as { platforms: { libvirt: { phases: { guestReady: { median: unknown } } } } };
    bad.platforms.libvirt.phases.guestReady.median = 'fast';
    expect(() => parseBench(bad, 'b.json')).toThrow(/b\.json: platforms\.libvirt\.phases\.guestReady\.median:/);
    expect(() => parseBench({ ...raw(), schema: 'vmconform.bench/v1' }, 'old.json')).toThrow(/old\.json: schema:/);
  });
});

describe('bench.md', () => {
  const b = fixture();
  const md = benchMarkdown(b);

  it('puts the readiness phases side by side: one column per platform, labelled with its evidence', () => {
    const [head, ...rows] = mdTable(md, 'phase: median (p95)');
    expect(head).toEqual([
      'phase: median (p95)',
      'libvirt (real, TCG)',
      'incus (container-only)',
      'proxmox (simulated)',
      'openstack (simulated)',
    ]);
    expect(rows.map((r) => r[0])).toEqual(benchPhases.map((p) => benchPhaseNames[p]));
    const guest = rows.find((r) => r[0] === 'guest ready');
    expect(guest).toEqual(['guest ready', '5412 ms (6028 ms)', '509 ms (611 ms)', '62 ms (83 ms)', '236 ms (262 ms)']);
    // OpenStack has no task for create: the phase is missing, not zero.
    expect(rows.find((r) => r[0] === 'task done (create)')?.[4]).toBe('—');
    expect(md).toContain('Simulated figures prove the adapter only, never the platform');
  });

  it('states the machine, accelerator per platform and the comparison warning', () => {
    expect(md.split('\n')[0]).toBe(`# vmconform bench ${b.runId}`);
    expect(md).toContain('2 cores (AMD EPYC), 23.4 GiB memory, kernel 6.18.44-fc-v669, Node v20.20.2');
    expect(md).toContain('harness commit 376a7a894a4a');
    expect(md).toMatch(/- libvirt: .*accelerator TCG: \/dev\/kvm is absent/);
    expect(md).toContain('**Compare only with runs on the same accelerator and core count.**');
    expect(md).toContain('Settings: 5 repetitions per sequence; scale steps 1, 2, 4 VMs at once; suites: both.');
    expect(md).not.toContain('INCOMPLETE');
    expect(md).not.toContain('Parts that failed');
  });

  it('shows the overhead ratio against the target, the per-repetition spread and why others have none', () => {
    const [head, ...rows] = mdTable(md, 'platform | direct sequence');
    expect(head).toContain('ratio of medians (target ≤ 1.03)');
    expect(rows.map((r) => r[0])).toEqual(['libvirt (real, TCG)', 'incus (container-only)']);
    const ratio = b.platforms.libvirt?.overhead?.ratioOfMedians as number;
    expect(rows[0]).toContain(`${ratio.toFixed(3)} (within target)`);
    expect(rows[0]).toContain('0.991 / 1.017 / 1.046');
    expect(md).toContain(`- proxmox: ${b.platforms.proxmox?.overheadNote}`);
    const over = fixture();
    if (over.platforms.incus?.overhead) over.platforms.incus.overhead.ratioOfMedians = 1.083;
    expect(benchMarkdown(over)).toContain('1.083 (OVER target)');
  });

  it('scale per platform: CPU share of the machine per group and the limit reached', () => {
    const top = b.platforms.libvirt?.scale.at(-1);
    expect(md).toContain(`Limit at 4 VMs: **cpu**: ${top?.limit.why}`);
    expect(md).toContain(`Limit at 4 VMs: **daemon**: ${b.platforms.incus?.scale.at(-1)?.limit.why}`);
    // guests 37.2 CPU-s over 21.4 s on 2 cores = 86.9% of the machine.
    expect(md).toContain('harness 5.6%, libvirtd 4.0%, guests 87%');
    expect(md).toContain('No scale steps: proxmox, openstack.');
  });

  it('suite time: both modes per platform, and the solo walls summed against the parallel wall', () => {
    expect(md).toContain('### Parallel (all platforms at once, one evaluate): 318 s wall');
    expect(md).toContain('### Solo (one platform at a time, each its own evaluate): 531 s wall');
    const [, libvirt] = mdTable(md, 'platform | time to verdict');
    expect(libvirt?.slice(0, 8)).toEqual([
      'libvirt (real)',
      '301 s',
      '96.4 s',
      '412 MiB',
      '0',
      '61 / 0 / 4',
      '148 s of 289 s (51%)',
      'suites/disks.conformance.ts 58.1 s (7 tests), suites/faults.conformance.ts 46.9 s (5 tests), suites/lifecycle.conformance.ts 39.2 s (9 tests)',
    ]);
    expect(md).toContain('Solo runs add up to 523 s (4 platforms); in parallel all took 318 s, 0.61× the solo sum.');
    expect(md).toContain('- libvirt: 253 s solo, 301 s in parallel (+19%)');
  });

  it('time to verdict per platform and for the whole evaluation, after lab up and with it', () => {
    const withLabs = fixture();
    withLabs.suites.labUp = {
      labs: {
        libvirt: { seconds: 40, cold: false },
        'site-b': { seconds: 12, cold: false },
        nats: { seconds: 0.3, cold: false },
        incus: { seconds: 3.6, cold: false },
      },
      platforms: {
        libvirt: ['libvirt', 'site-b', 'nats'],
        incus: ['incus', 'nats'],
        proxmox: ['proxmox', 'nats'],
        openstack: ['openstack', 'nats'],
      },
    };
    // The evaluation of all at once: its CPU is the whole process tree's, not per platform.
    if (withLabs.suites.parallel) withLabs.suites.parallel.evaluate = { cpuS: 190, peakRssMiB: 820, exitCode: 1 };
    for (const r of Object.values(withLabs.suites.parallel?.runs ?? {})) {
      delete r.cpuS;
      delete r.peakRssMiB;
    }
    const out = benchMarkdown(withLabs);
    expect(out).toContain('### Time to verdict');
    expect(out).toContain(
      '- time to verdict, libvirt: alone 253 s after lab up, 305 s with lab up; with all at once 301 s after lab up, 354 s with lab up (labs: libvirt 40.0 s, site-b 12.0 s, nats 0.3 s)',
    );
    expect(out).toContain('(labs: proxmox not recorded, nats 0.3 s)');
    expect(out).toContain(
      '- time to verdict, whole evaluation: all at once 318 s after lab up, 374 s with lab up; one after another 523 s after lab up, 579 s with lab up (at once / one after another 0.61×, at once / slowest platform alone 1.26× (target ≤ 1.2))',
    );
    expect(out).toContain('The evaluate of all: 190 s CPU, 820 MiB peak RSS, exit 1.');
    const [, libvirt] = mdTable(out, 'platform | time to verdict');
    expect(libvirt?.slice(0, 4)).toEqual(['libvirt (real)', '301 s', '—', '—']);
    expect(benchHtml(withLabs)).toContain('<h3>Time to verdict</h3>');
  });

  it('an incomplete bench says so at the top and lists the parts that failed', () => {
    const broken: Bench = fixture();
    broken.complete = false;
    if (broken.platforms.incus) broken.platforms.incus.error = 'scale 4: incusd | timed out\nafter 120 s';
    const run = broken.suites.solo?.runs.openstack;
    if (run) run.error = 'evaluate killed by SIGTERM';
    const out = benchMarkdown(broken);
    expect(out.split('\n')[2]).toMatch(/^> \*\*INCOMPLETE: this bench was interrupted or a part failed/);
    const failed = out.slice(out.indexOf('## Parts that failed'), out.indexOf('## Overhead'));
    expect(failed).toContain('- **incus bench**: scale 4: incusd \\| timed out after 120 s');
    expect(failed).toContain('- **openstack suites (solo)**: evaluate killed by SIGTERM');
    expect(failed).not.toContain('libvirt');
  });

  it('marks phases with fewer samples than repetitions and sections that did not run', () => {
    const thin = fixture();
    const gr = thin.platforms.libvirt?.phases.guestReady;
    if (gr) gr.n = 3;
    thin.suites = {};
    const out = benchMarkdown(thin);
    expect(out).toContain('5412 ms (6028 ms) n=3');
    expect(out).toContain('n=… marks fewer samples than the 5 repetitions');
    expect(out).toContain('The suites were not run.');
  });
});

describe('report benchmark section (HTML)', () => {
  const b = fixture();
  const html = benchHtml(b);

  it('has the side-by-side phases, overhead rows, scale limits and suite summary', () => {
    expect(html.startsWith(`<h2 id="bench">Benchmark ${b.runId}</h2>`)).toBe(true);
    expect(html).toContain('<th>proxmox (simulated)</th>');
    expect(html).toContain('<td>guest ready</td><td>5412 ms (6028 ms)</td><td>509 ms (611 ms)</td>');
    expect(html).toContain('1.018 (within target)');
    expect(html).toContain(`cpu: ${b.platforms.libvirt?.scale.at(-1)?.limit.why}`);
    expect(html).toContain('Solo runs add up to 523 s');
    expect(html).toContain('<svg');
  });

  it('escapes platform text: a <script> in an error string is shown, never run', () => {
    const evil = fixture();
    evil.complete = false;
    if (evil.platforms.proxmox) evil.platforms.proxmox.error = '<script>alert(1)</script> & "quoted"';
    const out = benchHtml(evil);
    expect(out).not.toContain('<script>');
    expect(out).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot;');
    expect(out).toContain('INCOMPLETE');
  });
});

describe('targets (issue 19): met, or the distance and what dominates it', () => {
  /** The fixture with what a bench now records: guest boots per suite file and the calls per lifecycle. */
  const recorded = (): Bench => {
    const b = fixture();
    const libvirtBoots = {
      total: 66,
      byFile: {
        'suites/disks.conformance.ts': 22,
        'suites/lifecycle.conformance.ts': 18,
        'suites/faults.conformance.ts': 10,
        'suites/nics.conformance.ts': 9,
        'suites/guest.conformance.ts': 7,
      },
    };
    for (const set of [b.suites.parallel, b.suites.solo]) {
      if (set?.runs.libvirt) set.runs.libvirt.boots = structuredClone(libvirtBoots);
      if (set?.runs.incus)
        set.runs.incus.boots = {
          total: 12,
          byFile: { 'suites/lifecycle.conformance.ts': 8, 'suites/nics.conformance.ts': 4 },
        };
    }
    const calls = (harness: Record<string, number>, direct: Record<string, number>, added: Record<string, number>) => ({
      harness,
      harnessTotal: Object.values(harness).reduce((a, n) => a + n, 0),
      direct,
      directTotal: Object.values(direct).reduce((a, n) => a + n, 0),
      added,
    });
    const lv = b.platforms.libvirt?.overhead;
    if (lv) lv.calls = calls({ start: 1, define: 1, domstate: 3 }, { start: 1, define: 1, domstate: 3 }, {});
    const inc = b.platforms.incus?.overhead;
    if (inc)
      inc.calls = calls(
        { 'GET /1.0/instances/{name}': 4, 'PUT /1.0/instances/{name}/state': 2 },
        { 'GET /1.0/instances/{name}': 2, 'PUT /1.0/instances/{name}/state': 2 },
        { 'GET /1.0/instances/{name}': 2 },
      );
    return b;
  };
  const line = (lines: string[], head: string) => lines.find((l) => l.startsWith(head)) ?? `(no line ${head})`;

  it('missed: the distance, what dominates and the load during the measurement', () => {
    const t = benchTargets(recorded());
    expect(line(t, 'whole evaluation')).toBe(
      "whole evaluation at once ≤ 1.2 × the slowest platform alone: missed: 1.26×, 15.3 s over the 1.2× line (318 s at once against libvirt's 253 s alone); dominated by libvirt, last to finish at 301 s (253 s alone, +19%): slowest files disks 58.1 s, faults 46.9 s, lifecycle 39.2 s; guest boots 66 (disks 22, lifecycle 18, faults 10); load avg 3.6 during the run of all at once, 1.7 during the solo runs",
    );
    expect(line(t, 'libvirt suite alone')).toBe(
      'libvirt suite alone ≤ 180 s: missed: 253 s, 72.6 s over (1.40× the target); dominated by: guest boots 66 (disks 22, lifecycle 18, faults 10); slowest files disks 47.5 s, faults 40.2 s, lifecycle 31.8 s; platform calls 122 s of 241 s test time (51%); load avg 1.7 during the solo runs',
    );
    expect(line(t, 'overhead ratio of medians ≤ 1.03, incus')).toBe(
      'overhead ratio of medians ≤ 1.03, incus: missed: 1.035, 0.005 over (per repetition 0.982–1.094); dominated by: the harness adds GET /1.0/instances/{name} ×2 per lifecycle; load avg 0.6 at the 1-VM scale step right after (the overhead runs record none)',
    );
  });

  it('met: each target says so with its figure', () => {
    const b = recorded();
    const { parallel, solo } = b.suites;
    if (!parallel || !solo?.runs.libvirt || !b.platforms.incus?.overhead) throw new Error('fixture changed');
    solo.runs.libvirt.wallS = 171.4;
    parallel.wallS = 160.2;
    b.platforms.incus.overhead.ratioOfMedians = 1.021;
    const t = benchTargets(b);
    expect(line(t, 'whole evaluation')).toBe(
      "whole evaluation at once ≤ 1.2 × the slowest platform alone: met (0.93×: 160 s at once against libvirt's 171 s alone); load avg 3.6 during the run of all at once, 1.7 during the solo runs",
    );
    expect(line(t, 'libvirt suite alone')).toBe(
      'libvirt suite alone ≤ 180 s: met (171 s); load avg 1.7 during the solo runs',
    );
    expect(line(t, 'overhead ratio of medians ≤ 1.03, libvirt')).toBe(
      'overhead ratio of medians ≤ 1.03, libvirt: met (1.018; per repetition 0.991–1.046); the harness adds no calls: the difference is its own time between them; load avg 1.2 at the 1-VM scale step right after (the overhead runs record none)',
    );
    expect(line(t, 'overhead ratio of medians ≤ 1.03, incus')).toMatch(/: met \(1\.021; .*the harness adds GET/);
  });

  it('missing data: says which bench option measures it, or why a platform has no figure', () => {
    const none = recorded();
    none.suites = {};
    delete none.platforms.incus;
    const t = benchTargets(none);
    expect(line(t, 'whole evaluation')).toBe(
      'whole evaluation at once ≤ 1.2 × the slowest platform alone: not measured: this bench has no run of all at once and no solo runs (`--suites both` measures both)',
    );
    expect(line(t, 'libvirt suite alone')).toMatch(
      /: not measured: this bench has no libvirt suite run \(`--suites solo`/,
    );
    expect(line(t, 'overhead ratio of medians ≤ 1.03, incus')).toBe(
      'overhead ratio of medians ≤ 1.03, incus: not measured (incus was not benched)',
    );
    expect(t.filter((l) => l.startsWith('guest boots'))).toEqual([]);

    const parallelOnly = recorded();
    delete parallelOnly.suites.solo;
    const libvirt = parallelOnly.platforms.libvirt;
    if (libvirt) {
      delete libvirt.overhead;
      libvirt.overheadNote = 'no direct sequence for this platform';
      libvirt.scale = [];
    }
    const p = benchTargets(parallelOnly);
    expect(line(p, 'whole evaluation')).toMatch(
      /: not measured: this bench has no solo runs \(`--suites both` measures both\)$/,
    );
    // The run of all at once stands in, labelled as such.
    expect(line(p, 'libvirt suite alone')).toMatch(
      /^libvirt suite alone ≤ 180 s: missed: 301 s, 121 s over \(1\.67× the target\) \(measured with all platforms at once, not alone: `--suites both` measures it alone\); dominated by: .*; load avg 3\.6 during the run of all at once$/,
    );
    expect(line(p, 'overhead ratio of medians ≤ 1.03, libvirt')).toBe(
      'overhead ratio of medians ≤ 1.03, libvirt: not measured: no direct sequence for this platform',
    );
    expect(line(p, 'guest boots, libvirt')).toBe(
      'guest boots, libvirt (all at once): 66 (disks 22, lifecycle 18, faults 10, nics 9, guest 7)',
    );

    const failed = recorded();
    if (failed.suites.solo?.runs.libvirt) failed.suites.solo.runs.libvirt.error = 'evaluate killed by SIGTERM';
    const f = benchTargets(failed);
    expect(line(f, 'libvirt suite alone')).toMatch(/: not measured: the libvirt suite run failed/);
    expect(line(f, 'whole evaluation')).toMatch(/: not measured: the suite runs of libvirt failed/);
  });

  it('guest boots before (--baseline) and after, per platform and per suite file, in the targets and the suites table', () => {
    const earlier = recorded();
    earlier.runId = '20261201t0900-aaaa';
    earlier.machine.harnessCommit = '1332125aaaabbbbcccc';
    const before = earlier.suites.solo?.runs.libvirt?.boots;
    if (before) {
      before.total = 67;
      before.byFile['suites/disks.conformance.ts'] = 24;
      before.byFile['suites/nics.conformance.ts'] = 6;
      before.byFile['suites/sites.conformance.ts'] = 1;
    }
    const baseline = baselineOf(earlier, 'out/bench/20261201t0900-aaaa/bench.json');
    // Solo runs where the earlier bench had them; the run of all at once otherwise.
    expect(baseline.boots.libvirt).toMatchObject({ total: 67, from: 'solo' });
    const b = parseBench({ ...recorded(), baseline }, 'bench.json');
    const t = benchTargets(b);
    expect(line(t, 'before = ')).toBe(
      `before = bench 20261201t0900-aaaa (${earlier.at}, harness commit 1332125aaaab, out/bench/20261201t0900-aaaa/bench.json)`,
    );
    expect(line(t, 'guest boots, libvirt')).toBe(
      'guest boots, libvirt (solo): 66 (before 67): disks 22 (before 24), lifecycle 18 (before 18), faults 10 (before 10), nics 9 (before 6), guest 7 (before 7), sites 0 (before 1)',
    );
    expect(line(t, 'guest boots, incus')).toBe(
      'guest boots, incus (solo): 12 (before 12): lifecycle 8 (before 8), nics 4 (before 4)',
    );
    expect(line(t, 'libvirt suite alone')).toContain(
      'dominated by: guest boots 66 (before 67): disks 22 (before 24), lifecycle 18 (before 18), faults 10 (before 10);',
    );
    // A baseline passed in directly wins over the one bench.json keeps.
    expect(line(benchTargets(recorded(), baseline), 'guest boots, libvirt')).toContain('66 (before 67)');

    const md = benchMarkdown(b);
    expect(md).toContain('## Targets');
    const [head, ...rows] = mdTable(md, 'platform | time to verdict');
    const boots = head?.indexOf('guest boots') as number;
    expect(rows[0]?.[boots]).toMatch(/^66 \(before 67\): disks 22 \(before 24\)/);
    expect(md).toContain('- guest boots, libvirt (solo): 66 (before 67)');
    const html = benchHtml(b);
    expect(html).toContain('<h3>Targets</h3>');
    expect(html).toContain('<li>guest boots, libvirt (solo): 66 (before 67)');
  });

  it('renders the targets block in bench.md and the report section without a baseline too', () => {
    const b = recorded();
    const md = benchMarkdown(b);
    const block = md.slice(md.indexOf('## Targets'));
    expect(block.split('\n').filter((l) => l.startsWith('- '))).toEqual(benchTargets(b).map((l) => `- ${l}`));
    expect(benchHtml(b)).toContain('<li>overhead ratio of medians ≤ 1.03, incus: missed: 1.035');
  });
});
