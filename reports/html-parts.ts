/**
 * Pieces every HTML renderer shares: escaping and the timing chart. Their own module so the report and
 * the benchmark section can both use them without importing each other.
 */
import type { Stats } from '../evidence/bundle.js';
import { fmtMs, statsLine } from './report-model.js';

export const esc = (s: unknown) =>
  String(s ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
export const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}…` : s);

/** Log-scale range chart: min..max line, p90..p95 box edge, median dot. */
export function timingChart(title: string, rows: { name: string; s: Stats }[]): string {
  if (rows.length === 0) return '';
  const left = 210;
  const width = 560;
  const rowH = 18;
  const h = rows.length * rowH + 34;
  const lo = Math.max(1, Math.min(...rows.map((r) => r.s.min)));
  const hi = Math.max(lo * 10, ...rows.map((r) => r.s.max));
  const l0 = Math.floor(Math.log10(lo));
  const l1 = Math.ceil(Math.log10(hi));
  const x = (ms: number) => left + ((Math.log10(Math.max(ms, 10 ** l0)) - l0) / (l1 - l0)) * width;
  const ticks: string[] = [];
  for (let e = l0; e <= l1; e++) {
    const tx = x(10 ** e);
    ticks.push(
      `<line x1="${tx}" y1="14" x2="${tx}" y2="${h - 16}" stroke="#d0d7de"/><text x="${tx}" y="${h - 4}" text-anchor="middle">${esc(fmtMs(10 ** e))}</text>`,
    );
  }
  const bars = rows.map((r, i) => {
    const y = 22 + i * rowH;
    return `<g><title>${esc(`${r.name}: ${statsLine(r.s)}`)}</title><text x="${left - 6}" y="${y + 4}" text-anchor="end">${esc(cut(r.name, 32))}</text><line x1="${x(r.s.min)}" y1="${y}" x2="${x(r.s.max)}" y2="${y}" stroke="#57606a" stroke-width="2"/><rect x="${x(r.s.median)}" y="${y - 5}" width="${Math.max(2, x(r.s.p95) - x(r.s.median))}" height="10" fill="#54aeff" opacity=".7"/><circle cx="${x(r.s.median)}" cy="${y}" r="4" fill="#0969da"/></g>`;
  });
  return `<figure><figcaption><b>${esc(title)}</b> <span class="muted small">(log scale; line min–max, box median–p95, dot median)</span></figcaption><svg role="img" aria-label="${esc(title)}" width="${left + width + 30}" height="${h}" viewBox="0 0 ${left + width + 30} ${h}">${ticks.join('')}${bars.join('')}</svg></figure>`;
}
