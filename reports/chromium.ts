/**
 * Opens a written report in headless Chromium (Debian's chromium, driven by playwright-core) and
 * collects every console error or warning, page error and non-file request, for the render tests
 * and scripts/report-timing.ts.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';

export const chromiumPath = process.env.VMCONFORM_CHROMIUM ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(chromiumPath))
    throw new Error(
      `${chromiumPath} not found: install Debian's chromium (apt-get install chromium; .ci/run does) or set VMCONFORM_CHROMIUM`,
    );
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
}

/** A fresh page on the report; `problems` fills as the page loads and is used. */
export async function openReport(browser: Browser, htmlPath: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => {
    if (!r.url().startsWith('file:')) problems.push(`network request: ${r.url()}`);
  });
  await page.goto(pathToFileURL(resolve(htmlPath)).href, { waitUntil: 'load' });
  return { page, problems };
}
