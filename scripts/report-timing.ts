/**
 * Measures a written HTML report in headless Chromium: size on disk, and per load (median of N)
 * DOMContentLoaded, load and first contentful paint from the browser's own performance timeline.
 * Usage: node --import tsx scripts/report-timing.ts <report.html> [runs=5]
 */
import { stat } from 'node:fs/promises';
import { stats } from '../evidence/stats.js';
import { launchChromium, openReport } from '../reports/chromium.js';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: report-bench.ts <report.html> [runs]\n');
  process.exit(2);
}
const runs = Number(process.argv[3] ?? 5);
const bytes = (await stat(file)).size;
const browser = await launchChromium();
const samples = { domContentLoaded: [] as number[], load: [] as number[], firstContentfulPaint: [] as number[] };
try {
  for (let i = 0; i < runs; i++) {
    // A fresh page each time: no cache between loads.
    const { page } = await openReport(browser, file);
    const t = await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
      const fcp = performance.getEntriesByName('first-contentful-paint')[0];
      return { dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd, fcp: fcp?.startTime ?? -1 };
    });
    samples.domContentLoaded.push(t.dcl);
    samples.load.push(t.load);
    if (t.fcp >= 0) samples.firstContentfulPaint.push(t.fcp);
    await page.close();
  }
} finally {
  await browser.close();
}
process.stdout.write(
  `${JSON.stringify({ file, bytes, kib: Math.round(bytes / 1024), runs, ms: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v)])) }, null, 2)}\n`,
);
