/**
 * Canary: a secret named in the lab config's `secrets:` (once by env var, once by file) and present
 * in the environment must be absent from every byte a real run leaves: bundle, platform facts, leak
 * check, vitest output, the report (HTML, Markdown, JUnit) and the run's stdout/stderr.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { expect, it } from 'vitest';
import { loadLabConfig } from '../adapters/lab-config.js';
import { launchChromium, openReport } from '../reports/chromium.js';
import { repoRoot } from '../run/vitest-run.js';

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }))
    if (e.isFile()) out.push(join(e.parentPath, e.name));
  return out;
}

it('a canary secret from the config and the environment reaches no byte of the bundle, the report or the logs', async () => {
  const dir = await mkdtemp('/tmp/vmconform-canary-');
  const envCanary = `canary-env-${randomBytes(8).toString('hex')}`;
  const fileCanary = `canary-file-${randomBytes(8).toString('hex')}`;
  await writeFile(join(dir, 'secret'), `${fileCanary}\n`);
  const local = await readFile(join(repoRoot, 'lab/lab.local.yaml'), 'utf8');
  const config = join(dir, 'lab.yaml');
  await writeFile(
    config,
    `${local.replace(/^outputDir:.*$/m, `outputDir: ${join(dir, 'out')}`)}\nsecrets:\n  - env: VMC_CANARY\n  - file: ${join(dir, 'secret')}\n`,
  );
  const run = await execa(
    'node',
    [join(repoRoot, 'scripts/bin.mjs'), 'evaluate', '-c', config, '-p', 'libvirt', '--no-lab', '-r', 'AUT-01'],
    { cwd: repoRoot, env: { VMC_CANARY: envCanary }, stdin: 'ignore', reject: false, all: false },
  );
  await writeFile(join(dir, 'out', 'evaluate.stdout.log'), run.stdout);
  await writeFile(join(dir, 'out', 'evaluate.stderr.log'), run.stderr);
  expect(run.stdout, run.stderr).toMatch(/report: .*report\.html/);

  const files = await filesUnder(join(dir, 'out'));
  const names = files.map((f) => f.slice(dir.length));
  for (const want of ['results.json', 'platform.json', 'leaks.json', 'report.html', 'report.md', 'report.junit.xml'])
    expect(
      names.some((n) => n.endsWith(want)),
      `${want} in ${names.join(', ')}`,
    ).toBe(true);
  // The run really used this config (its secrets were resolved and registered for redaction).
  const bundlePath = files.find((f) => f.endsWith('results.json')) as string;
  const bundle = JSON.parse(await readFile(bundlePath, 'utf8'));
  process.env.VMC_CANARY = envCanary;
  expect(bundle.configHash).toBe((await loadLabConfig(config)).hash);
  expect(bundle.requirements['AUT-01']).toBeDefined();
  for (const f of files) {
    const bytes = await readFile(f);
    for (const canary of [envCanary, fileCanary]) expect(bytes.includes(canary), `${canary} found in ${f}`).toBe(false);
  }

  // The report of a real run renders too: summary and matrix, no console errors, no network.
  const browser = await launchChromium();
  try {
    const { page, problems } = await openReport(browser, files.find((f) => f.endsWith('report.html')) as string);
    expect(await page.locator('#summary .badge').first().isVisible()).toBe(true);
    expect(await page.locator('#matrix a[href="#d-libvirt-AUT-01"]').textContent()).toBe(
      bundle.requirements['AUT-01'].verdict,
    );
    expect(problems).toEqual([]);
  } finally {
    await browser.close();
  }
}, 300_000);
