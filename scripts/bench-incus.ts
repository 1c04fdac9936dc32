/**
 * npm run bench:incus: the Incus counterpart of scripts/bench.ts. Harness overhead (the same lifecycle
 * as raw REST calls over the same socket and through the adapter, interleaved), per-operation
 * phases, and scale (1-8 instances at once). Never part of the test pass; writes
 * out/bench/<run>/bench-incus.json and bench-incus.md.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { newRunId } from '../adapters/driver.js';
import type { IncusDriver } from '../adapters/incus/adapter.js';
import { connectTarget } from '../adapters/registry.js';
import { waitFor } from '../adapters/wait.js';
import { loadLabConfig } from '../lab/config.js';
import { incusUp } from '../lab/incus/lab.js';
import { stats } from '../reports/results.js';
import { Transcript } from '../reports/transcript.js';
import { benchPoll, interleaved, phaseStats, scaleSteps, statsRow, throughHarness } from './bench-lifecycle.js';
import { repoRoot } from './vitest-run.js';

const say = (m: string) => process.stdout.write(`[bench-incus] ${m}\n`);
const reps = Number(process.env.BENCH_REPS ?? 5);
const scales = (process.env.BENCH_SCALES ?? '1,2,4,8').split(',').map(Number);
const now = () => performance.now();
const poll = benchPoll;

const lab = await incusUp(say);
const runId = newRunId();
const outDir = resolve(repoRoot, 'out/bench', runId);
await mkdir(outDir, { recursive: true });
const { config } = await loadLabConfig(join(repoRoot, 'lab/lab.local.yaml'));
if (!config.platforms.incus) throw new Error('lab/lab.local.yaml has no incus section');
const t = await connectTarget('incus', config, { runId, transcript: new Transcript() });
const driver = t.driver as IncusDriver;
const client = driver.client;
const ownerConfig = { 'user.vmconform.marker': 'vmconform', 'user.vmconform.run': runId };

/** The lifecycle as a person would script it against the REST API: same requests, same polling. */
async function direct(name: string): Promise<number> {
  const t0 = now();
  const type = (await driver.capabilities()).instanceType === 'vm' ? 'virtual-machine' : 'container';
  await client.async('POST', '/1.0/instances', {
    json: {
      name,
      type,
      source: { type: 'image', alias: t.lab.image },
      config: { 'limits.cpu': '1', 'limits.memory': '256MiB', ...ownerConfig },
      devices: {
        root: { type: 'disk', path: '/', pool: config.platforms.incus?.pool ?? 'vmconform' },
        eth0: { type: 'nic', network: t.lab.network, hwaddr: '52:54:00:be:01:01', name: 'eth0' },
      },
    },
  });
  await client.async('PUT', `/1.0/instances/${name}/state`, { json: { action: 'start' } });
  await waitFor('direct READY', poll, async () => {
    const r = await client
      .raw('GET', `/1.0/instances/${name}/files`, { query: { path: '/var/log/vmc/console.log' } })
      .catch(() => undefined);
    return r?.text.includes('VMC READY') ? true : undefined;
  });
  await client.async('PUT', `/1.0/instances/${name}/state`, { json: { action: 'stop', timeout: 60 } });
  await client.async('DELETE', `/1.0/instances/${name}`);
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
const overhead = {
  direct: stats(directMs),
  vmconform: stats(harness.map((h) => h.total)),
  ratioOfMedians: stats(harness.map((h) => h.total)).median / stats(directMs).median,
};
const phaseNames = ['createDone', 'startAccepted', 'running', 'guestReady', 'stop', 'delete'] as const;
const phases = phaseStats(harness, phaseNames);

say(`scale: ${scales.join(', ')} instances in flight at once`);
const scale = (await scaleSteps(t, scales, (n, i) => `vmc-${runId}-s${n}-${i}`)).map((x) => ({
  n: x.n,
  wallMs: x.wallMs,
  perVm: stats(x.res.map((r) => r.total)),
  guestReady: stats(x.res.map((r) => r.guestReady)),
  loadAvg: x.loadAvg,
}));
for (const s of scale) say(`${s.n} at once: wall ${s.wallMs.toFixed(0)} ms, load ${s.loadAvg}`);

const info = await t.driver.platformInfo();
const caps = await t.driver.capabilities();
const machine = {
  cores: cpus().length,
  cpuModel: cpus()[0]?.model,
  platform: `${info.product} ${info.version} (API ${info.apiVersion})`,
  instanceType: caps.instanceType,
  evidence: caps.evidence,
  vmUnavailable: lab.vm.canStart ? undefined : lab.vm.error,
};
const result = { runId, at: new Date().toISOString(), machine, reps, overhead, phases, scale };
await writeFile(join(outDir, 'bench-incus.json'), JSON.stringify(result, null, 2));
const row = statsRow;
const md = [
  `# vmconform bench (Incus) ${runId}`,
  '',
  `Machine: ${machine.cores} cores (${machine.cpuModel}), ${machine.platform}, instances: ${machine.instanceType} (${machine.evidence})${machine.vmUnavailable ? `; VMs cannot start here: ${machine.vmUnavailable}` : ''}.`,
  '',
  '## Overhead (create, start, guest ready, graceful stop, delete; ms)',
  '| sequence | n | min | median | p95 | max |',
  '|---|---|---|---|---|---|',
  row('raw REST', overhead.direct),
  row('vmconform', overhead.vmconform),
  '',
  `Ratio of medians vmconform / raw REST: **${overhead.ratioOfMedians.toFixed(3)}**.`,
  '',
  '## Phases through vmconform (ms from the start of each call)',
  '| phase | n | min | median | p95 | max |',
  '|---|---|---|---|---|---|',
  ...phaseNames.map((p) => row(p, phases[p])),
  '',
  '## Scale (instances in flight at once)',
  '| instances | wall ms | per-instance median ms | p95 ms | guest ready median ms | load avg |',
  '|---|---|---|---|---|---|',
  ...scale.map(
    (s) =>
      `| ${s.n} | ${s.wallMs.toFixed(0)} | ${s.perVm.median} | ${s.perVm.p95} | ${s.guestReady.median} | ${s.loadAvg} |`,
  ),
  '',
].join('\n');
await writeFile(join(outDir, 'bench-incus.md'), md);
await t.driver.close();
process.stdout.write(`\n${md}\nbench: ${join(outDir, 'bench-incus.json')}\n`);
