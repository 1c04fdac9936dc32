/** vmconform command line. Exit codes: 0 ok, 1 tests/requirements failed or harness error, 2 bad input. */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { type Platform, platforms } from '../adapters/driver.js';
import { ConfigInvalid, isVmconformError } from '../adapters/errors.js';
import { loadLabConfig } from '../lab/config.js';
import { libvirtDown, libvirtUp, readLibvirtLabState } from '../lab/libvirt/lab.js';
import { requirements } from '../suites/requirements.js';
import { repoRoot, runVitest } from './vitest-run.js';

const say = (msg: string) => process.stdout.write(`[vmconform] ${msg}\n`);
const labPlatforms = ['libvirt'] as const;
type LabPlatform = (typeof labPlatforms)[number];

function labPlatform(value: string): LabPlatform {
  if (!(labPlatforms as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(
      `expected one of: ${labPlatforms.join(', ')} (the local labs this build can bring up)`,
    );
  }
  return value as LabPlatform;
}

function platformList(value: string): Platform[] {
  const list = value.split(',').map((s) => s.trim());
  for (const p of list) {
    if (!(platforms as readonly string[]).includes(p))
      throw new InvalidArgumentError(`unknown platform '${p}': expected one of ${platforms.join(', ')}`);
  }
  return list as Platform[];
}

const newRunId = () => {
  const d = new Date().toISOString().replace(/[-:]/g, '').slice(0, 13).toLowerCase();
  return `${d}-${randomBytes(2).toString('hex')}`;
};

async function labUp(p: LabPlatform): Promise<void> {
  if (p === 'libvirt') await libvirtUp(say);
}

const program = new Command()
  .name('vmconform')
  .description(
    'Drives real hypervisor APIs through one driver contract and records evidence against the VM platform requirement catalogue.',
  )
  .option('--debug', 'print stack traces on errors')
  // Bad input exits 2 (documented); commander's own default is 1.
  .exitOverride();

const lab = program
  .command('lab')
  .description('bring the embedded local lab up or down (installs Debian packages, starts daemons by hand)');
lab
  .command('up')
  .argument('<platform>', `one of: ${labPlatforms.join(', ')}`, labPlatform)
  .description(
    'build the local lab: packages, daemons, guest image, pool, networks, external bridge (idempotent; prints its time)',
  )
  .action(async (p: LabPlatform) => labUp(p));
lab
  .command('down')
  .argument('<platform>', `one of: ${labPlatforms.join(', ')}`, labPlatform)
  .description('remove owned leftovers, then stop only the daemons the lab started')
  .option('--purge', 'also remove the pools, image, networks and guest artefacts (the next lab up is cold)')
  .action(async (p: LabPlatform, opts: { purge?: boolean }) => {
    if (p === 'libvirt') await libvirtDown(say, opts);
  });
lab
  .command('status')
  .description('print what `lab up` measured (accelerator, missing prerequisites, bring-up time)')
  .action(async () => {
    process.stdout.write(
      `${JSON.stringify({ libvirt: (await readLibvirtLabState()) ?? 'not brought up' }, null, 2)}\n`,
    );
  });

program
  .command('evaluate')
  .description(
    'bring up the local lab (unless --no-lab), run the conformance suites per platform, write results under the output folder',
  )
  .option(
    '-c, --config <file>',
    'lab config (YAML); secrets are referenced by env var or file, never given here',
    'lab/lab.local.yaml',
  )
  .option('-p, --platform <list>', 'comma-separated platforms to evaluate', platformList, ['libvirt'] as Platform[])
  .option('-o, --out <dir>', 'output folder (default: outputDir from the config)')
  .option(
    '-r, --requirement <pattern>',
    "only tests whose requirement ids match this regular expression, e.g. LC-0 or 'DSK|NIC'",
  )
  .option('--no-lab', 'do not bring the local lab up first (use for a remote lab host)')
  .action(async (opts: { config: string; platform: Platform[]; out?: string; requirement?: string; lab: boolean }) => {
    const configPath = resolve(opts.config);
    const { config } = await loadLabConfig(configPath);
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
    let failed = false;
    for (const p of opts.platform) {
      if (!config.platforms[p as keyof typeof config.platforms]) {
        throw new ConfigInvalid(`platform '${p}' is not configured in ${opts.config} (platforms.${p} is missing)`);
      }
      if (opts.lab && (labPlatforms as readonly string[]).includes(p)) await labUp(p as LabPlatform);
      const out = resolve(opts.out ?? config.outputDir, runId, p);
      say(`evaluating ${p}, run ${runId} -> ${out}`);
      const counts = await runVitest(
        ['--project', 'conformance', ...(opts.requirement ? ['-t', opts.requirement] : [])],
        { VMCONFORM_PLATFORM: p, VMCONFORM_RUN_ID: runId, VMCONFORM_CONFIG: configPath, VMCONFORM_OUT: out },
        resolve(out, 'vitest.json'),
      );
      say(
        `${p}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} inconclusive (skipped); results: ${out}/results.json`,
      );
      failed ||= counts.failed > 0 || counts.total === 0;
    }
    process.exitCode = failed ? 1 : 0;
  });

program
  .command('test')
  .description(
    'the project test pass: bring up the local libvirt lab, run unit tests and the conformance suites against it, end with "N passed, N failed"',
  )
  .option('--unit-only', 'only the unit tests (no lab needed)')
  .action(async (opts: { unitOnly?: boolean }) => {
    const runId = newRunId();
    if (!opts.unitOnly) await labUp('libvirt');
    const out = resolve(repoRoot, 'out', runId, 'libvirt');
    const counts = await runVitest(
      opts.unitOnly ? ['--project', 'unit'] : [],
      {
        VMCONFORM_PLATFORM: 'libvirt',
        VMCONFORM_RUN_ID: runId,
        VMCONFORM_CONFIG: resolve(repoRoot, 'lab/lab.local.yaml'),
        VMCONFORM_OUT: out,
      },
      resolve(out, 'vitest.json'),
    );
    if (counts.total === 0) say('no test ran: that is a failure, not a success');
    process.stdout.write(`${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
    process.exitCode =
      counts.failed > 0 || counts.total === 0 || (counts.exitCode !== 0 && counts.failed === 0 && counts.skipped === 0)
        ? 1
        : 0;
  });

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
    process.stderr.write(`vmconform: ${e.message}\n`);
    if (program.opts().debug) process.stderr.write(`${(e as Error).stack}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`vmconform: ${e instanceof Error ? e.message : String(e)}\n`);
    if (program.opts().debug) process.stderr.write(`${(e as Error).stack}\n`);
    process.exitCode = 1;
  }
}
