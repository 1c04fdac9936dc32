/**
 * npm run bench: per platform, the harness's overhead against a direct sequence (interleaved), readiness
 * phases, and scale (1-8 VMs at once, with what the machine did and where the limit was); then suite time,
 * all platforms' evaluations at once by default. Never part of the test pass.
 * Writes <out>/<run>/bench.json (after every part, so an interrupted bench keeps what it measured) and bench.md.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { newRunId, type Target } from '../adapters/contract/index.js';
import { configuredPlatforms, type LabConfig, loadLabConfig } from '../adapters/lab-config.js';
import { platforms as allPlatforms, connectTarget, type Platform, registry } from '../adapters/platforms.js';
import { ConfigInvalid } from '../evidence/errors.js';
import { harnessIdentity } from '../evidence/results.js';
import { stats } from '../evidence/stats.js';
import { Transcript } from '../evidence/transcript.js';
import { ensurePackages } from '../host/host.js';
import { lab, labsFor } from '../lab/labs.js';
import {
  type Bench,
  type BenchBaseline,
  type BenchPlatform,
  baselineOf,
  benchPhases,
  benchSchemaId,
  parseBench,
  readBench,
} from '../reports/bench.js';
import { benchMarkdown } from '../reports/render-bench.js';
import { registerRun, removeOwned } from '../run/runs.js';
import { repoRoot } from '../run/vitest-run.js';
import { callsPerLifecycle, interleaved, overheadOf, phaseStats, throughHarness } from './lifecycle.js';
import { classifyLimit, platformClassifier, sampleUsage } from './machine.js';
import { interruptSuites, labUpTimes, runSuites } from './suites.js';

const say = (m: string) => process.stdout.write(`[bench] ${m}\n`);
const positive = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(`${what}: expected a whole number >= 1, got '${v}'`);
  return n;
};
const scaleList = (v: string) => v.split(',').map(positive('--scales'));
const platformList = (v: string) =>
  v.split(',').map((p) => {
    if (!(allPlatforms as readonly string[]).includes(p))
      throw new InvalidArgumentError(`--platform: '${p}' is not one of ${allPlatforms.join(', ')}`);
    return p as Platform;
  });

const program = new Command('npm run bench --')
  .description(
    'benchmark the harness and the platforms: overhead against plain virsh / raw REST, readiness phases, scale with the limit reached, and suite time; writes bench.json and bench.md (use `vmconform report --bench` to add them to a report)',
  )
  .option('-c, --config <file>', 'lab config (YAML)', 'lab/lab.local.yaml')
  .option('-p, --platform <list>', 'comma-separated platforms (default: every platform in the config)', platformList)
  .option('--reps <n>', 'interleaved repetitions for overhead and phases', positive('--reps'), 5)
  .option('--scales <list>', 'VMs in flight at once, per scale step', scaleList, [1, 2, 4, 8])
  .addOption(
    new Option('--suites <mode>', 'suite time: all platforms at once, one at a time, both, or none')
      .choices(['parallel', 'solo', 'both', 'none'])
      .default('parallel'),
  )
  .option('-o, --out <dir>', 'output folder; each bench writes <out>/<run>/', 'out/bench')
  .option('--baseline <bench.json>', "an earlier bench: its guest boots per suite are shown beside this bench's")
  .option('--no-lab', 'do not bring the local labs up first (use for a remote lab host)')
  .addHelpText(
    'after',
    '\nOn the 2-core TCG reference machine the defaults take about 10 minutes after lab up; --suites both adds about 14.\nCtrl-C finishes the current step, removes what the bench created and writes what it measured.',
  );

interface Opts {
  config: string;
  platform?: Platform[];
  reps: number;
  scales: number[];
  suites: Bench['settings']['suites'];
  out: string;
  lab: boolean;
  baseline?: string;
}

program.parse();
const opts = program.opts<Opts>();
const began = performance.now();
const runId = newRunId();
const outDir = resolve(repoRoot, opts.out, runId);
/** Bad input ends the bench before it touches anything: the message names the field, exit 2 as the CLI does. */
async function loadInput(): Promise<{ config: LabConfig; chosen: Platform[]; baseline?: BenchBaseline }> {
  try {
    const { config } = await loadLabConfig(resolve(opts.config));
    const chosen = opts.platform ?? configuredPlatforms(config);
    for (const p of chosen)
      if (!config.platforms[p as keyof LabConfig['platforms']])
        throw new ConfigInvalid(`--platform ${p}: not configured in ${opts.config} (platforms.${p} is missing)`);
    if (!opts.baseline) return { config, chosen };
    return { config, chosen, baseline: baselineOf(await readBench(opts.baseline, '--baseline'), opts.baseline) };
  } catch (e) {
    if (!(e instanceof ConfigInvalid)) throw e;
    process.stderr.write(`error: ${e.message}\n`);
    process.exit(2);
  }
}
const { config, chosen, baseline } = await loadInput();

let interrupted = false;
/** The part running now, for stoppedBy. */
let part = 'setup';
process.on('SIGINT', () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  say('interrupt: finishing the current step, then removing what this bench created (Ctrl-C again to quit now)');
  // A Ctrl-C at a terminal reaches the evaluate runs too; a signal sent to the bench alone (a CI timeout) does not.
  interruptSuites();
});
const checkInterrupt = () => {
  if (interrupted) throw new Error('interrupted');
};

const { commit, dirty } = harnessIdentity();
const bench: Bench = {
  schema: benchSchemaId,
  runId,
  at: new Date().toISOString(),
  complete: false,
  durationS: 0,
  machine: {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    harnessCommit: `${commit}${dirty ? '+dirty' : ''}`,
  },
  settings: { reps: opts.reps, scales: opts.scales, suites: opts.suites },
  platforms: {},
  suites: {},
  ...(baseline ? { baseline } : {}),
};

/** Written after every part: validated, so a report never reads a file this bench could not. */
async function save(): Promise<void> {
  bench.durationS = Math.round((performance.now() - began) / 1000);
  const valid = parseBench(bench, 'bench.json');
  await writeFile(join(outDir, 'bench.json'), JSON.stringify(valid, null, 2));
  await writeFile(join(outDir, 'bench.md'), benchMarkdown(valid));
}

/**
 * What each local lab recorded (lab status), read once. A remote libvirt target is not the local lab, so
 * that lab's record (its daemon pids, its accelerator probe) would describe another host: it is left out.
 */
async function localLabStates(): Promise<Map<string, unknown>> {
  const states = new Map<string, unknown>();
  for (const name of labsFor(config, chosen))
    if (name !== 'libvirt' || !new URL(config.platforms.libvirt?.uri ?? 'qemu:///system').host)
      states.set(name, await (await lab(name)).status().catch(() => undefined));
  return states;
}

/** The pids the labs recorded starting (daemons, simulators): their CPU is the platform's, not the harness's. */
function labPids(states: Map<string, unknown>): number[] {
  const pids: number[] = [];
  for (const v of states.values()) {
    if (!v || typeof v !== 'object') continue;
    for (const [k, x] of Object.entries(v)) {
      if (k === 'pid' && typeof x === 'number') pids.push(x);
      else if (k === 'startedPids' && x && typeof x === 'object')
        for (const n of Object.values(x)) if (typeof n === 'number') pids.push(n);
    }
  }
  return pids;
}

async function benchPlatform(
  p: Platform,
  t: Target,
  transcript: Transcript,
  labState: unknown,
  daemonPids: number[],
): Promise<void> {
  part = `${p} overhead and phases`;
  const info = await t.driver.platformInfo();
  const caps = await t.driver.capabilities();
  const accelReason = (labState as { accelReason?: string } | undefined)?.accelReason;
  const entry: BenchPlatform = {
    evidence: caps.evidence,
    accel: info.accel,
    ...(accelReason ? { accelReason } : {}),
    product: `${info.product} ${info.version}${info.hypervisor ? ` (${info.hypervisor})` : ''}`,
    instanceType: caps.instanceType,
    phases: {},
    scale: [],
  };
  bench.platforms[p] = entry;
  const made =
    (await registry.descriptor(p).directBaseline?.({
      section: config.platforms[p],
      target: t,
      runId,
      labState,
      transcript,
    })) ?? 'no direct sequence for this platform';
  const direct = typeof made === 'string' ? undefined : made;
  if (typeof made === 'string') entry.overheadNote = made;
  say(
    `${p}: ${opts.reps} interleaved repetitions of create, start, running, guest ready, graceful stop, delete${direct ? ` (and the same as ${direct.label})` : ''}`,
  );
  // The platform calls of each sequence, from the transcript both record into: which calls the harness adds.
  const calls = { harness: [] as string[][], direct: [] as string[][] };
  const counted = async <T>(into: string[][], fn: () => Promise<T>): Promise<T> => {
    const mark = transcript.length;
    const r = await fn();
    into.push(transcript.since(mark).map((e) => e.request));
    return r;
  };
  const { directMs, harness } = await interleaved(
    opts.reps,
    (kind, i) => `vmc-${runId}-${kind}${i}`,
    direct &&
      (async (name) => {
        checkInterrupt();
        return counted(calls.direct, () => direct.run(name));
      }),
    async (name) => {
      checkInterrupt();
      return counted(calls.harness, () => throughHarness(t, name));
    },
    (m) => say(`${p}: ${m}`),
  );
  entry.phases = phaseStats(harness, benchPhases);
  if (direct)
    entry.overhead = {
      direct: direct.label,
      ...overheadOf(
        directMs,
        harness.map((h) => h.total),
      ),
      calls: callsPerLifecycle(calls.harness, calls.direct),
    };
  await save();
  say(`${p}: scale ${opts.scales.join(', ')} VMs in flight at once`);
  for (const n of opts.scales) {
    checkInterrupt();
    part = `${p} scale ${n}`;
    const sampler = sampleUsage(platformClassifier({ harness: process.pid }, daemonPids), [process.pid]);
    const t0 = performance.now();
    const settled = await Promise.allSettled(
      Array.from({ length: n }, (_, i) => throughHarness(t, `vmc-${runId}-s${n}-${i}`)),
    );
    const wallMs = Math.round(performance.now() - t0);
    const { usage } = sampler.stop();
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    const res = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const step = {
      vms: n,
      wallMs,
      perVm: stats(res.map((r) => r.total)),
      createAccepted: stats(res.map((r) => r.createAccepted)),
      guestReady: stats(res.map((r) => r.guestReady)),
      usage,
    };
    const limit = classifyLimit(step, entry.scale[0]);
    entry.scale.push({ ...step, limit });
    say(
      `${p}: ${n} at once: wall ${(wallMs / 1000).toFixed(1)} s, guest ready median ${(step.guestReady.median / 1000).toFixed(1)} s, CPU ${usage.cpuBusyPct}% busy; limit ${limit.kind}: ${limit.why}`,
    );
    await save();
  }
}

/** Removes everything this bench's run id owns on the platform, whatever state the bench stopped in. */
async function cleanup(p: Platform, t: Target): Promise<void> {
  const mine = (await t.driver.owned()).filter((o) => o.runId === runId);
  if (mine.length === 0) return;
  say(`${p}: removing ${mine.length} object(s) this bench created`);
  const failed = await removeOwned(t.driver, mine, say);
  if (failed.length > 0) say(`${p}: ${failed.length} could not be removed; \`vmconform sweep --run ${runId}\` retries`);
}

await mkdir(outDir, { recursive: true });
say(`run ${runId} -> ${outDir}`);
if (opts.suites !== 'none') await ensurePackages(['time'], say);
if (opts.lab) for (const name of labsFor(config, chosen)) await (await lab(name)).up(say);
const unregister = await registerRun(runId, chosen);
let failures = 0;
try {
  const states = await localLabStates();
  const daemonPids = labPids(states);
  if (opts.suites !== 'none') bench.suites.labUp = labUpTimes((p) => labsFor(config, [p]), states, chosen);
  for (const p of chosen) {
    checkInterrupt();
    const transcript = new Transcript();
    const t = await connectTarget(p, config.platforms, { runId, transcript });
    try {
      await benchPlatform(p, t, transcript, states.get(p), daemonPids);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      if (interrupted) throw e;
      // One platform failing leaves the others to measure; its figures so far are kept with the error.
      failures += 1;
      say(`${p}: FAILED: ${why}`);
      const entry = bench.platforms[p];
      if (entry) entry.error = why;
    } finally {
      await cleanup(p, t).catch((e: unknown) => say(`${p}: cleanup failed: ${String(e)}`));
      await t.driver.close();
      await save();
    }
  }
  for (const mode of opts.suites === 'both'
    ? (['solo', 'parallel'] as const)
    : opts.suites === 'none'
      ? []
      : [opts.suites]) {
    checkInterrupt();
    part = `suite time (${mode})`;
    say(
      `suite time (${mode}): ${mode === 'parallel' ? `${chosen.join(', ')} at once, in one evaluate` : `${chosen.join(', ')} one after another, each its own evaluate`}`,
    );
    const set = await runSuites(mode, chosen, {
      configPath: resolve(opts.config),
      out: join(outDir, 'suites'),
      daemonPids,
      say,
    });
    bench.suites[mode] = set;
    for (const [p, r] of Object.entries(set.runs))
      say(
        `${mode} ${p}: ${r.wallS} s ${mode === 'parallel' ? 'to verdict' : 'wall'}${r.cpuS !== undefined ? `, ${r.cpuS} s CPU` : ''}${r.peakRssMiB !== undefined ? `, ${r.peakRssMiB} MiB peak RSS` : ''}, ${r.counts.passed} passed, ${r.counts.failed} failed, ${r.counts.skipped} skipped (exit ${r.exitCode})`,
      );
    say(`${mode}: ${set.wallS} s in all, CPU ${set.usage.cpuBusyPct}% busy`);
    await save();
  }
  // The last part may have ended because of an interrupt it passed on (the evaluate runs stop early).
  checkInterrupt();
  bench.complete = failures === 0;
} catch (e) {
  bench.stoppedBy = interrupted
    ? `an interrupt (SIGINT) during ${part}`
    : `${e instanceof Error ? e.message : String(e)} (in ${part})`;
  say(interrupted ? 'interrupted: figures so far are kept' : `FAILED: ${bench.stoppedBy}`);
  process.exitCode = interrupted ? 130 : 1;
} finally {
  await unregister();
  await save();
}
process.stdout.write(`\n${benchMarkdown(bench)}\nbench: ${join(outDir, 'bench.json')} (${bench.durationS} s)\n`);
if (failures > 0 && !process.exitCode) process.exitCode = 1;
