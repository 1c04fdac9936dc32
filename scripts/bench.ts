/**
 * npm run bench: harness overhead (the same lifecycle run as plain virsh and through vmconform,
 * interleaved), readiness phases, suite time with CPU and peak RSS, and scale (1-8 VMs at once).
 * Never part of the test pass; writes out/bench/<run>/bench.json and bench.md.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { newRunId } from '../adapters/driver.js';
import { buildDomainXml } from '../adapters/libvirt/mapping.js';
import { connectTarget } from '../adapters/registry.js';
import { waitFor } from '../adapters/wait.js';
import { loadLabConfig } from '../lab/config.js';
import { libvirtUp } from '../lab/libvirt/lab.js';
import { type Stats, stats } from '../reports/results.js';
import { Transcript } from '../reports/transcript.js';
import { benchPoll, interleaved, phaseStats, scaleSteps, statsRow, throughHarness } from './bench-lifecycle.js';
import { repoRoot } from './vitest-run.js';

const say = (m: string) => process.stdout.write(`[bench] ${m}\n`);
const reps = Number(process.env.BENCH_REPS ?? 5);
const scales = (process.env.BENCH_SCALES ?? '1,2,4,8').split(',').map(Number);
const now = () => performance.now();
const poll = benchPoll;

const lab = await libvirtUp(say);
const runId = newRunId();
const outDir = resolve(repoRoot, 'out/bench', runId);
await mkdir(outDir, { recursive: true });
const configPath = join(repoRoot, 'lab/lab.local.yaml');
const { config } = await loadLabConfig(configPath);
const t = await connectTarget('libvirt', config, { runId, transcript: new Transcript() });
const virsh = async (...args: string[]) =>
  (await execa('virsh', ['-c', 'qemu:///system', '-q', ...args], { stdin: 'ignore' })).stdout;

/** The lifecycle as a person would script it with virsh: same XML, same polling interval. */
async function direct(name: string): Promise<number> {
  const t0 = now();
  const base = (await virsh('vol-path', 'vmc-base-v1', '--pool', 'vmconform-images')).trim();
  await virsh(
    'vol-create-as',
    'vmconform',
    `${name}-boot`,
    '67108864B',
    '--format',
    'qcow2',
    '--backing-vol',
    base,
    '--backing-vol-format',
    'raw',
  );
  const log = join(lab.consoleDir, `${name}.log`);
  const xml = buildDomainXml({
    name,
    vcpus: 1,
    memoryMiB: 256,
    accel: lab.accel,
    kernel: lab.kernel,
    initrd: lab.initrd,
    cmdline: 'console=ttyS0 quiet panic=-1',
    consoleLog: log,
    pool: 'vmconform',
    disks: [{ volume: `${name}-boot`, target: 'vda', serial: 'boot', format: 'qcow2' }],
    nics: [{ network: 'vmconform-net', mac: '52:54:00:be:00:01' }],
    owner: { marker: 'vmconform', runId, createdAt: new Date().toISOString() },
    metadata: {},
    ownedVolumes: [`${name}-`],
  });
  const dir = await mkdtemp(join(tmpdir(), 'bench-'));
  await writeFile(join(dir, 'd.xml'), xml);
  await virsh('define', join(dir, 'd.xml'));
  await rm(dir, { recursive: true });
  await virsh('start', name);
  await waitFor('direct READY', poll, async () =>
    (await readFile(log, 'utf8').catch(() => '')).includes('VMC READY') ? true : undefined,
  );
  await virsh('shutdown', name, '--mode', 'acpi');
  await waitFor('direct shut off', poll, async () =>
    (await virsh('domstate', name)).trim() === 'shut off' ? true : undefined,
  );
  await virsh('undefine', name);
  await virsh('vol-delete', `${name}-boot`, '--pool', 'vmconform');
  await rm(log, { force: true });
  return now() - t0;
}

say(`overhead: ${reps} interleaved repetitions of create, start, guest ready, graceful stop, delete`);
const { directMs, harness } = await interleaved(
  reps,
  (kind, i) => `vmc-${runId}-${kind}${i}`,
  direct,
  (name) => throughHarness(t, name),
  say,
);
const ratios = harness.map((h, i) => h.total / (directMs[i] ?? Number.NaN));
const overhead = {
  direct: stats(directMs),
  vmconform: stats(harness.map((h) => h.total)),
  ratioOfMedians: stats(harness.map((h) => h.total)).median / stats(directMs).median,
  // Ratios need three decimals; stats() rounds to 0.1, so scale up and back.
  ratioSpread: Object.fromEntries(
    Object.entries(stats(ratios.map((r) => r * 1000))).map(([k, v]) => [k, k === 'n' ? v : v / 1000]),
  ) as Stats,
};
const phaseNames = ['createAccepted', 'startAccepted', 'running', 'guestReady', 'stop', 'delete'] as const;
const phases = phaseStats(harness, phaseNames);

say(`scale: ${scales.join(', ')} VMs in flight at once`);
const scale = (await scaleSteps(t, scales, (n, i) => `vmc-${runId}-s${n}-${i}`)).map((x) => ({
  vms: x.n,
  wallMs: x.wallMs,
  perVm: stats(x.res.map((r) => r.total)),
  createAccepted: stats(x.res.map((r) => r.createAccepted)),
  guestReady: stats(x.res.map((r) => r.guestReady)),
  loadAvg: x.loadAvg,
}));
for (const s of scale)
  say(
    `${s.vms} at once: wall ${s.wallMs.toFixed(0)} ms, guest ready median ${s.guestReady.median} ms, load ${s.loadAvg}`,
  );

say('suite time: the full libvirt conformance run, with harness CPU time and peak RSS');
const suite = await execa(
  '/usr/bin/time',
  [
    '-f',
    '%e %U %S %M',
    'node',
    join(repoRoot, 'scripts/bin.mjs'),
    'evaluate',
    '-p',
    'libvirt',
    '--no-lab',
    '-o',
    join(outDir, 'suite'),
  ],
  {
    cwd: repoRoot,
    stdin: 'ignore',
    reject: false,
  },
);
const [wall, user, sys, rssKiB] = (suite.stderr.trim().split('\n').pop() ?? '').split(' ').map(Number);
const suiteTime = {
  exitCode: suite.exitCode,
  wallS: wall,
  harnessCpuS: (user ?? 0) + (sys ?? 0),
  peakRssMiB: Math.round((rssKiB ?? 0) / 1024),
};
say(
  `suite: ${wall} s wall, ${suiteTime.harnessCpuS.toFixed(1)} s CPU (harness + virsh children), peak RSS ${suiteTime.peakRssMiB} MiB`,
);

const info = await t.driver.platformInfo();
const machine = {
  cores: cpus().length,
  cpuModel: cpus()[0]?.model,
  accel: lab.accel,
  accelReason: lab.accelReason,
  platform: `${info.product} ${info.version}`,
  hypervisor: info.hypervisor,
};
const result = { runId, at: new Date().toISOString(), machine, reps, overhead, phases, scale, suiteTime };
await writeFile(join(outDir, 'bench.json'), JSON.stringify(result, null, 2));
const row = statsRow;
const md = [
  `# vmconform bench ${runId}`,
  '',
  `Machine: ${machine.cores} cores (${machine.cpuModel}), ${machine.accel.toUpperCase()} (${machine.accelReason}), ${machine.platform}, ${machine.hypervisor}. Compare only with runs on the same accelerator and core count.`,
  '',
  '## Overhead (create, start, guest ready, graceful stop, delete; ms)',
  '| sequence | n | min | median | p95 | max |',
  '|---|---|---|---|---|---|',
  row('plain virsh', overhead.direct),
  row('vmconform', overhead.vmconform),
  '',
  `Ratio of medians vmconform / direct: **${overhead.ratioOfMedians.toFixed(3)}** (target <= 1.05); per-repetition ratio min ${overhead.ratioSpread.min.toFixed(3)}, median ${overhead.ratioSpread.median.toFixed(3)}, max ${overhead.ratioSpread.max.toFixed(3)}.`,
  '',
  '## Readiness phases through vmconform (ms from the start of each call)',
  '| phase | n | min | median | p95 | max |',
  '|---|---|---|---|---|---|',
  ...phaseNames.map((p) => row(p, phases[p])),
  '',
  '## Scale (VMs in flight at once)',
  '| VMs | wall ms | per-VM median ms | per-VM p95 ms | create accepted median ms | guest ready median ms | load avg |',
  '|---|---|---|---|---|---|---|',
  ...scale.map(
    (s) =>
      `| ${s.vms} | ${s.wallMs.toFixed(0)} | ${s.perVm.median} | ${s.perVm.p95} | ${s.createAccepted.median} | ${s.guestReady.median} | ${s.loadAvg} |`,
  ),
  '',
  '## Suite time (libvirt conformance, one run)',
  `${suiteTime.wallS} s wall, ${suiteTime.harnessCpuS.toFixed(1)} s CPU in the harness and its virsh children, peak RSS ${suiteTime.peakRssMiB} MiB (exit ${suiteTime.exitCode}).`,
  '',
].join('\n');
await writeFile(join(outDir, 'bench.md'), md);
process.stdout.write(`\n${md}\nbench: ${join(outDir, 'bench.json')}\n`);
