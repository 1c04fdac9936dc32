/**
 * Opens the HTML report in real headless Chromium (Debian's chromium driven by playwright-core):
 * the matrix and the dimension summary render, from file://, with no console errors and no network
 * request. Saves out/report-screenshot.png as a CI artefact. Without chromium this test FAILS.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { requirements } from '../requirements/registry.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

import { allPass, makeBundle } from '../evidence/testkit.js';
import { launchChromium, openReport } from './chromium.js';
import { writeReport } from './write.js';

it('the HTML report renders its matrix and five-dimension summary in headless Chromium, with no console errors', async () => {
  // Fails (never skips) without chromium: the message says how to install it.
  const browser = await launchChromium();
  const dir = await mkdtemp('/tmp/vmconform-report-');
  const ids = requirements.filter((r) => r.verification !== 'manual').map((r) => r.id);
  for (const [platform, specs] of [
    ['libvirt', { ...allPass(ids), 'NIC-04': { verdict: 'prereq-missing' }, 'OBS-01': { verdict: 'unsupported' } }],
    [
      'incus',
      { ...allPass(ids), 'LC-02': { verdict: 'pass', evidence: 'container-only' }, 'DSK-01': { verdict: 'fail' } },
    ],
  ] as const) {
    await mkdir(join(dir, platform));
    await writeFile(join(dir, platform, 'results.json'), JSON.stringify(makeBundle(platform, specs)));
  }
  const report = await writeReport({ bundles: [dir] });

  try {
    const { page, problems } = await openReport(browser, report.html);

    const gates = await page.locator('#summary tr').nth(1).locator('.badge').allTextContents();
    expect(gates).toEqual(['not acceptable', 'not acceptable']);
    expect(await page.locator('#summary tr').count()).toBe(2 + 5);
    expect(await page.locator('#matrix tr[data-met]').count()).toBe(requirements.length);
    expect(await page.locator('#matrix a.v-prereq-missing').count()).toBeGreaterThan(0);
    expect(await page.locator('#matrix .tag-cont').count()).toBe(1);
    await expect.poll(() => page.locator('#matrix').isVisible()).toBe(true);

    // Drill-down: a cell opens its detail (pure :target), with checks and a transcript excerpt.
    await page.locator('#matrix a[href="#d-incus-DSK-01"]').click();
    const detail = page.locator('#d-incus-DSK-01');
    expect(await detail.isVisible()).toBe(true);
    expect(await detail.textContent()).toContain('DSK-01 check');
    // The filter script hides rows met everywhere.
    await page.locator('#only-open').check();
    expect(await page.locator('#matrix tr[data-met="true"]').first().isVisible()).toBe(false);
    await page.locator('#only-open').uncheck();

    await page.evaluate(() => window.scrollTo(0, 0));
    await mkdir(join(repoRoot, 'out'), { recursive: true });
    await page.screenshot({ path: join(repoRoot, 'out/report-screenshot.png'), fullPage: false });
    expect(problems).toEqual([]);
  } finally {
    await browser.close();
  }
}, 60_000);
