/** vmconform command line. Exit codes: 0 ok, 1 tests/requirements failed or harness error, 2 bad input. */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { type Driver, newRunId } from '../adapters/contract/index.js';
import { configuredPlatforms, type LabConfig, loadLabConfig, resolveSecret } from '../adapters/lab-config.js';
import { connectTarget, type Platform, platforms } from '../adapters/platforms.js';
import { ConfigInvalid, isVmconformError } from '../evidence/errors.js';
import { redactText } from '../evidence/redact.js';
import { Transcript } from '../evidence/transcript.js';
import { runBridge } from '../features/bridge.js';
import { describeReport, exportInventory, parseInventory, reconcile } from '../features/inventory.js';
import { isLab, lab, labNames, labsFor } from '../lab/labs.js';
import { summaryLines, writeReport } from '../reports/write.js';
import { knownFindingsEnv } from '../requirements/known-findings.js';
import { requirements } from '../requirements/registry.js';
import { runPlatform } from '../run/platform-run.js';
import { decideSweep, liveRuns, registerRun, removeOwned } from '../run/runs.js';
import { repoRoot, runVitest, type VitestCounts } from '../run/vitest-run.js';

// Everything the CLI prints passes the redactor: a registered secret never reaches the terminal or CI log.
const say = (msg: string) => process.stdout.write(redactText(`[vmconform] ${msg}\n`));
function labName(value: string): string {
  if (!isLab(value))
    throw new InvalidArgumentError(`expected one of: ${labNames.join(', ')} (the local labs this build can bring up)`);
  return value;
}

function platformList(value: string): Platform[] {
  const list = value.split(',').map((s) => s.trim());
  for (const p of list) {
    if (!(platforms as readonly string[]).includes(p))
      throw new InvalidArgumentError(`unknown platform '${p}': expected one of ${platforms.join(', ')}`);
  }
  return list as Platform[];
}

function duration(value: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(value);
  if (!m) throw new InvalidArgumentError('expected a number with a unit s, m, h or d (e.g. 30m, 2h)');
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

async function labUp(name: string): Promise<void> {
  await (await lab(name)).up(say);
}

/** A platform's own lab must come up; a further site's failing leaves only the multi-site suites without it. */
/**
 * Brings up the labs the chosen platforms need. A shared service lab (a second site, NATS) that fails is
 * reported and its suites say prereq-missing; a platform's own lab that fails throws, or, with
 * `failed`, is recorded there so the caller can go on with the other platforms.
 */
async function labsUp(config: LabConfig, chosen: Platform[], failed?: Map<string, string>): Promise<void> {
  for (const name of labsFor(config, chosen)) {
    if ((chosen as string[]).includes(name)) {
      if (!failed) await labUp(name);
      else await labUp(name).catch((e: unknown) => failed.set(name, e instanceof Error ? e.message : String(e)));
    } else
      await labUp(name).catch((e: unknown) =>
        say(
          `lab ${name} did not come up (${e instanceof Error ? e.message : String(e)}); the multi-site suites will report prereq-missing`,
        ),
      );
  }
}

const program = new Command()
  .name('vmconform')
  .description(
    'Drives real hypervisor APIs through one driver contract and records evidence against the VM platform requirement catalogue.',
  )
  .option('--debug', 'print stack traces on errors')
  // Bad input exits 2 (documented); commander's own default is 1.
  .exitOverride();

const labCmd = program
  .command('lab')
  .description('bring the embedded local labs up or down (installs Debian packages, starts daemons by hand)');
labCmd
  .command('up')
  .argument('<lab>', `one of: ${labNames.join(', ')}`, labName)
  .description('build the local lab: packages, daemons, images, networks (idempotent; prints its time)')
  .action(async (name: string) => labUp(name));
labCmd
  .command('down')
  .argument('<lab>', `one of: ${labNames.join(', ')}`, labName)
  .description('remove owned leftovers, then stop only the daemons the lab started')
  .option('--purge', 'also remove the pools, images, networks and built artefacts (the next lab up is cold)')
  .action(async (name: string, opts: { purge?: boolean }) => (await lab(name)).down(say, opts));
labCmd
  .command('status')
  .description('print what `lab up` measured per lab (accelerator, missing prerequisites, bring-up time)')
  .action(async () => {
    const all: Record<string, unknown> = {};
    for (const name of labNames) all[name] = (await (await lab(name)).status()) ?? 'not brought up';
    process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
  });

program
  .command('evaluate')
  .description(
    'bring up the local lab (unless --no-lab), run the conformance suites per platform, write an evidence bundle per platform and one report (HTML, Markdown, JUnit) under <output folder>/<run>/',
  )
  .option(
    '-c, --config <file>',
    'lab config (YAML); secrets are referenced by env var or file, never given here',
    'lab/lab.local.yaml',
  )
  .option(
    '-p, --platform <list>',
    'comma-separated platforms to evaluate (default: every platform in the config)',
    platformList,
  )
  .option('-o, --out <dir>', 'output folder (default: outputDir from the config)')
  .option(
    '-r, --requirement <pattern>',
    "only tests whose requirement ids match this regular expression, e.g. LC-0 or 'DSK|NIC'",
  )
  .option('--no-lab', 'do not bring the local lab up first (use for a remote lab host)')
  .action(async (opts: { config: string; platform?: Platform[]; out?: string; requirement?: string; lab: boolean }) => {
    // An evaluation reports every finding as it is: the test pass's known-findings list never applies here.
    delete process.env[knownFindingsEnv];
    const configPath = resolve(opts.config);
    const { config } = await loadLabConfig(configPath);
    const chosen = opts.platform ?? configuredPlatforms(config);
    if (opts.requirement) {
      let re: RegExp;
      try {
        re = new RegExp(opts.requirement);
      } catch {
        throw new ConfigInvalid(
          `--requirement '${opts.requirement}': not a valid regular expression (e.g. LC-0 or 'DSK|NIC')`,
        );
      }
      if (!requirements.some((r) => re.test(r.id))) {
        throw new ConfigInvalid(
          `--requirement '${opts.requirement}' matches no requirement id (e.g. LC-01, DSK-0, 'DSK|NIC')`,
        );
      }
    }
    const runId = newRunId();
    const unregister = await registerRun(runId, chosen);
    let failed = false;
    const bundles: string[] = [];
    // Bundles and the report are written however the run ends (failure, interrupt), for what ran.
    const report = async () => {
      // A platform run that failed before its suites wrote anything has no bundle to show.
      const written = bundles.filter((b) => existsSync(b));
      if (written.length === 0) return;
      const r = await writeReport({ bundles: written, out: resolve(opts.out ?? config.outputDir, runId) });
      for (const line of summaryLines(r)) say(line);
    };
    try {
      if (opts.lab) await labsUp(config, chosen);
      for (const p of chosen) {
        if (!config.platforms[p as keyof typeof config.platforms]) {
          throw new ConfigInvalid(`platform '${p}' is not configured in ${opts.config} (platforms.${p} is missing)`);
        }
        const out = resolve(opts.out ?? config.outputDir, runId, p);
        say(`evaluating ${p}, run ${runId} -> ${out}`);
        // Known before the run, so the report includes it even when the platform run throws.
        bundles.push(resolve(out, 'results.json'));
        const { counts, leaks, bundlePath } = await runPlatform({
          platform: p,
          runId,
          config,
          configPath,
          out,
          vitestArgs: ['--project', 'conformance', ...(opts.requirement ? ['-t', opts.requirement] : [])],
          say,
          ...(opts.lab && isLab(p) ? { recover: () => labUp(p) } : {}),
        });
        say(
          `${p}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} inconclusive (skipped); bundle: ${bundlePath}`,
        );
        failed ||= counts.failed > 0 || counts.total === 0 || leaks.after.length > 0;
        if (counts.interrupted) {
          process.exitCode = 130;
          return;
        }
      }
    } finally {
      await unregister();
      await report().catch((e: unknown) => {
        say(`report not written: ${e instanceof Error ? e.message : String(e)}`);
        process.exitCode = 1;
      });
    }
    process.exitCode = failed ? 1 : 0;
  });

program
  .command('report')
  .description(
    'write one self-contained HTML report (plus Markdown and JUnit XML) from evidence bundles, one per platform; prints where they are',
  )
  .argument(
    '<bundle...>',
    'results.json files, platform folders (out/<run>/<platform>) or run folders (out/<run>: every platform in it)',
  )
  .option(
    '-o, --out <dir>',
    'folder for report.html, report.md, report.junit.xml (default: the run folder of the first bundle)',
  )
  .option(
    '--compare <bundle>',
    'an older bundle (or run folder) of the same platform(s): list what regressed or improved per requirement; repeatable',
    (v: string, prev: string[] = []) => [...prev, v],
  )
  .option('--bench <file>', 'a bench.json from npm run bench (vmconform.bench/v2), shown as a benchmark section')
  .option('--assessments <dir>', 'folder of manual assessment files <platform>.yaml (default: reports/assessments)')
  .option('--scoring <file>', 'scoring file: weights and threshold (default: reports/scoring.yaml)')
  .action(
    async (
      bundles: string[],
      opts: { out?: string; compare?: string[]; bench?: string; assessments?: string; scoring?: string },
    ) => {
      const r = await writeReport({
        bundles,
        out: opts.out,
        compare: opts.compare,
        bench: opts.bench,
        ...(opts.assessments ? { assessments: resolve(opts.assessments) } : {}),
        ...(opts.scoring ? { scoring: resolve(opts.scoring) } : {}),
      });
      for (const line of summaryLines(r)) say(line);
    },
  );

program
  .command('test')
  .description(
    'the project test pass: bring up the local labs of lab/lab.local.yaml, run the unit and lab-harness tests, then the conformance suites on every platform there; a platform finding listed in requirements/known-findings.ts counts as skipped (its evidence stays fail) and fails the pass once it no longer reproduces; ends with "N passed, N failed, N skipped"',
  )
  .option('--unit-only', 'only the unit tests (no lab needed)')
  .action(async (opts: { unitOnly?: boolean }) => {
    const runId = newRunId();
    const configPath = resolve(repoRoot, 'lab/lab.local.yaml');
    const total: VitestCounts = { passed: 0, failed: 0, skipped: 0, total: 0, exitCode: 0, interrupted: false };
    const add = (c: VitestCounts, leaked = 0) => {
      total.passed += c.passed;
      // A leak is a failure of the run even when every test passed.
      total.failed += c.failed + (leaked > 0 ? 1 : 0);
      total.skipped += c.skipped;
      total.total += c.total;
      total.interrupted ||= c.interrupted;
      if (c.exitCode !== 0 && c.skipped === 0) total.exitCode = c.exitCode;
    };
    if (opts.unitOnly) {
      add(await runVitest(['--project', 'unit'], {}, resolve(repoRoot, 'out', runId, 'unit', 'vitest.json')));
    } else {
      const { config } = await loadLabConfig(configPath);
      const chosen = configuredPlatforms(config);
      const labFailed = new Map<string, string>();
      await labsUp(config, chosen, labFailed);
      const unregister = await registerRun(runId, chosen);
      // The project's test pass (only here, never `evaluate`) skips real-platform findings listed in
      // requirements/known-findings.ts and fails on a listed one that no longer reproduces; evidence keeps `fail`.
      process.env[knownFindingsEnv] = '1';
      // One platform that cannot be tested is one failure; the others are still tested and the summary printed.
      const broken = (platform: string, why: string) => {
        say(`FAILED ${platform}: ${why}`);
        total.failed += 1;
      };
      let first = true;
      try {
        for (const platform of chosen) {
          if (total.interrupted) break;
          const labError = labFailed.get(platform);
          if (labError !== undefined) {
            broken(platform, `its lab did not come up: ${labError}`);
            continue;
          }
          say(`testing ${platform} (run ${runId})`);
          try {
            const r = await runPlatform({
              platform,
              runId,
              config,
              configPath,
              out: resolve(repoRoot, 'out', runId, platform),
              // Unit and lab-harness tests once, with the first platform tested; conformance suites on every one.
              vitestArgs: first ? [] : ['--project', 'conformance'],
              say,
              ...(isLab(platform) ? { recover: () => labUp(platform) } : {}),
            });
            first = false;
            add(r.counts, r.leaks.after.length);
          } catch (e) {
            broken(platform, `the run could not finish: ${e instanceof Error ? e.message : String(e)}`);
          }
        }
      } finally {
        await unregister();
      }
    }
    if (total.total === 0) say('no test ran: that is a failure, not a success');
    process.stdout.write(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped\n`);
    process.exitCode = total.interrupted ? 130 : total.failed > 0 || total.total === 0 || total.exitCode !== 0 ? 1 : 0;
  });

program
  .command('sweep')
  .description(
    'remove objects left by runs that are no longer alive (VMs first, then backups, volumes and images), with a summary',
  )
  .option('-c, --config <file>', 'lab config (YAML)', 'lab/lab.local.yaml')
  .option(
    '-p, --platform <list>',
    'comma-separated platforms to sweep (default: every platform in the config)',
    platformList,
  )
  .option(
    '--older-than <duration>',
    'only runs that started longer ago than this (e.g. 30m, 2h, 1d); runs alive on this machine are never swept',
    duration,
    2 * 3600_000,
  )
  .option('--run <id>', 'only this run (ignores --older-than, still never a live run)')
  .option('--dry-run', 'list what would be removed, remove nothing')
  .action(
    async (opts: { config: string; platform?: Platform[]; olderThan: number; run?: string; dryRun?: boolean }) => {
      const { config } = await loadLabConfig(resolve(opts.config));
      const live = await liveRuns();
      for (const p of opts.platform ?? configuredPlatforms(config)) {
        const target = await connectTarget(p, config.platforms, { runId: newRunId(), transcript: new Transcript() });
        // Every site's own API once: per-host drivers (libvirt) or one shared driver.
        const apis = new Map<Driver, string>([[target.driver, p]]);
        for (const site of target.sites ?? []) if (!apis.has(site.driver)) apis.set(site.driver, `${p} ${site.name}`);
        for (const [driver, where] of apis) {
          const decisions = decideSweep(await driver.owned(), live, new Date(), opts.olderThan, opts.run);
          for (const d of decisions)
            say(
              `${d.action === 'remove' ? (opts.dryRun ? 'would remove' : 'removing') : 'keeping'} ${d.object.kind} ${d.object.name} (run ${d.object.runId}): ${d.why}`,
            );
          const doomed = decisions.filter((d) => d.action === 'remove').map((d) => d.object);
          const failed = opts.dryRun ? [] : await removeOwned(driver, doomed, say);
          say(
            `${where}: ${doomed.length} to remove${opts.dryRun ? ' (dry run: nothing removed)' : `, ${doomed.length - failed.length} removed, ${failed.length} failed`}, ${decisions.length - doomed.length} kept`,
          );
          if (failed.length > 0) process.exitCode = 1;
          await driver.close();
        }
      }
    },
  );

/** One platform of the config for the inventory commands (read-only: no run is registered, nothing created). */
async function inventoryTarget(opts: { config: string; platform?: Platform[] }) {
  const { config } = await loadLabConfig(resolve(opts.config));
  const chosen = opts.platform ?? configuredPlatforms(config);
  if (chosen.length !== 1)
    throw new ConfigInvalid(
      `--platform: expected exactly one platform for inventory, got ${chosen.join(',') || 'none'}`,
    );
  const p = chosen[0] as Platform;
  if (!config.platforms[p as keyof typeof config.platforms])
    throw new ConfigInvalid(`platform '${p}' is not configured in ${opts.config} (platforms.${p} is missing)`);
  return connectTarget(p, config.platforms, { runId: newRunId(), transcript: new Transcript() });
}

const inventoryCmd = program
  .command('inventory')
  .description(
    'export the platform inventory (hosts, VMs, volumes, NICs with durable ids and placement) as JSON, or reconcile it against a system-of-record snapshot',
  );
inventoryCmd
  .command('export')
  .description('write the inventory as vmconform.inventory/v1 JSON (see features/inventory.ts for the shape)')
  .option('-c, --config <file>', 'lab config (YAML)', 'lab/lab.local.yaml')
  .option('-p, --platform <name>', 'the platform to export (default: the only one in the config)', platformList)
  .option('-o, --out <file>', 'write to this file instead of stdout')
  .option('--owner <run id>', "only this vmconform run's VMs and volumes (hosts are always listed)")
  .action(async (opts: { config: string; platform?: Platform[]; out?: string; owner?: string }) => {
    const target = await inventoryTarget(opts);
    const inv = await exportInventory(target.driver, opts.owner ? { owner: opts.owner } : {});
    const text = `${JSON.stringify(inv, null, 2)}\n`;
    if (opts.out) {
      await writeFile(opts.out, text);
      say(
        `${inv.hosts.length} hosts, ${inv.vms.length} VMs, ${inv.volumes.length} volumes, ${inv.nics.length} NICs -> ${opts.out}`,
      );
    } else process.stdout.write(text);
  });
inventoryCmd
  .command('reconcile')
  .description(
    'compare the platform now with a system-of-record export: prints missing, unexpected and drifted objects; exits 1 on any',
  )
  .requiredOption(
    '--against <file>',
    'system-of-record snapshot (vmconform.inventory/v1 JSON, e.g. from inventory export)',
  )
  .option('-c, --config <file>', 'lab config (YAML)', 'lab/lab.local.yaml')
  .option('-p, --platform <name>', 'the platform to read (default: the only one in the config)', platformList)
  .option('--json', 'print the report as JSON')
  .action(async (opts: { against: string; config: string; platform?: Platform[]; json?: boolean }) => {
    const text = await readFile(opts.against, 'utf8').catch((e: NodeJS.ErrnoException) => {
      throw new ConfigInvalid(`--against ${opts.against}: cannot read (${e.code ?? e.message})`);
    });
    const record = parseInventory(text, opts.against);
    const target = await inventoryTarget(opts);
    // Same scope as the record: a run-scoped snapshot is compared with that run's objects only.
    const report = reconcile(record, await exportInventory(target.driver, record.scope));
    if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else for (const line of describeReport(report)) process.stdout.write(`${line}\n`);
    process.exitCode = report.clean ? 0 : 1;
  });

program
  .command('bridge')
  .description(
    "publish each platform's events as JSON on NATS subjects <prefix>.<platform>.<kind> (with the platform's task id and timestamps) until Ctrl-C, then print a summary",
  )
  .option('--nats <url>', 'NATS server, e.g. nats://127.0.0.1:4222 (default: nats.url from the config)')
  .option('-c, --config <file>', 'lab config (YAML)', 'lab/lab.local.yaml')
  .option(
    '-p, --platform <list>',
    'comma-separated platforms to bridge (default: every platform in the config)',
    platformList,
  )
  .action(async (opts: { nats?: string; config: string; platform?: Platform[] }) => {
    const { config } = await loadLabConfig(resolve(opts.config));
    const url = opts.nats ?? config.nats?.url;
    if (!url) throw new ConfigInvalid(`--nats: no NATS URL given and ${opts.config} has no nats.url`);
    if (!/^nats:\/\/[^\s/]+$/.test(url)) throw new ConfigInvalid(`--nats '${url}': expected nats://host:port`);
    const token = config.nats?.token ? await resolveSecret(config.nats.token, 'nats.token') : undefined;
    const chosen = opts.platform ?? configuredPlatforms(config);
    const drivers = [];
    for (const p of chosen)
      drivers.push(
        (await connectTarget(p, config.platforms, { runId: newRunId(), transcript: new Transcript() })).driver,
      );
    const ac = new AbortController();
    const stop = () => ac.abort();
    // `on`, not `once`: execa's exit hook re-raises a signal when no other listener is left, killing us before the summary.
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    const t0 = Date.now();
    const r = await runBridge({
      bridge: { url, prefix: config.nats?.subjectPrefix ?? 'vmconform', ...(token ? { token } : {}) },
      drivers,
      signal: ac.signal,
      say,
    });
    for (const d of drivers) await d.close();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    say(`bridge stopped after ${((Date.now() - t0) / 1000).toFixed(1)} s: ${r.summary}`);
  });

program
  .command('fault-proxy')
  .description(
    'run the fault-injecting HTTP proxy on loopback in front of a REST platform until Ctrl-C; point the adapter at it with VMCONFORM_VIA_<PLATFORM>=<printed url>',
  )
  .requiredOption('--upstream <url>', 'the real endpoint: http(s)://host:port, or unix:/path/to/socket')
  .requiredOption(
    '--faults <spec>',
    'comma-separated, each kind[=value][*count][@METHOD][:path-regex]; kinds: latency=MS, status=CODE, reset, reset-after-forward, truncate=BYTES, slow-headers=MS (e.g. status=503*2@GET,reset-after-forward*1@POST)',
  )
  .option('--port <n>', 'loopback port (default: a free one)', (v) => Number(v), 0)
  .option('--for <duration>', 'inject faults only this long, then only forward (e.g. 10m)', duration, 600_000)
  .option('--upstream-ca <file>', 'PEM CA to verify an https upstream')
  .option('--upstream-insecure', 'do not verify an https upstream certificate (loopback simulators only)')
  .action(
    async (opts: {
      upstream: string;
      faults: string;
      port: number;
      for: number;
      upstreamCa?: string;
      upstreamInsecure?: boolean;
    }) => {
      const { parseFaults, startFaultProxy } = await import('../host/fault-proxy.js');
      let rules: ReturnType<typeof parseFaults>;
      try {
        rules = parseFaults(opts.faults);
      } catch (e) {
        throw new ConfigInvalid(`--faults: ${(e as Error).message}`);
      }
      const ca = opts.upstreamCa
        ? await readFile(opts.upstreamCa, 'utf8').catch(() => {
            throw new ConfigInvalid(`--upstream-ca: cannot read ${opts.upstreamCa}`);
          })
        : undefined;
      const proxy = await startFaultProxy({
        upstream: opts.upstream,
        rules,
        port: opts.port,
        activeForMs: opts.for,
        ...(ca ? { upstreamCa: ca } : {}),
        ...(opts.upstreamInsecure ? { upstreamInsecure: true } : {}),
      }).catch((e: unknown) => {
        throw new ConfigInvalid(`fault-proxy: ${(e as Error).message}`);
      });
      say(`fault proxy on ${proxy.url} -> ${opts.upstream}; e.g. VMCONFORM_VIA_INCUS=${proxy.url} (Ctrl-C to stop)`);
      await new Promise<void>((r) => {
        process.on('SIGINT', () => r());
        process.on('SIGTERM', () => r());
      });
      await proxy.close();
      const faulted = proxy.log.filter((l) => l.fault);
      say(
        `fault proxy stopped: ${proxy.log.length} requests, ${faulted.length} faulted (${faulted.map((l) => `${l.method} ${l.path} ${l.fault}`).join('; ') || 'none'})`,
      );
    },
  );

program
  .command('requirements')
  .description('list the requirement registry (id, level, dimension, verification, suite)')
  .action(() => {
    for (const r of requirements)
      process.stdout.write(
        `${r.id.padEnd(7)} ${r.level.padEnd(6)} ${r.dimension.padEnd(11)} ${r.verification.padEnd(6)} ${r.suite ?? '(manual)'}  ${r.title}\n`,
      );
  });

try {
  await program.parseAsync();
} catch (e) {
  if (e instanceof CommanderError) {
    // commander already printed its message; help and version are not errors.
    process.exitCode = e.exitCode === 0 ? 0 : 2;
  } else if (isVmconformError(e) || e instanceof InvalidArgumentError) {
    process.stderr.write(redactText(`vmconform: ${e.message}\n`));
    if (program.opts().debug) process.stderr.write(redactText(`${(e as Error).stack}\n`));
    process.exitCode = 2;
  } else {
    process.stderr.write(redactText(`vmconform: ${e instanceof Error ? e.message : String(e)}\n`));
    if (program.opts().debug) process.stderr.write(redactText(`${(e as Error).stack}\n`));
    process.exitCode = 1;
  }
}
