/**
 * `vmconform preflight`: per platform, connect and ask what a run would lack, so a long run against a
 * real cluster is not the way to find out. Generic checks (connection, capabilities) for every platform,
 * then the platform's own (its descriptor's `preflight`).
 */
import type { PreflightCheck, PreflightReport, Say } from '../adapters/contract/index.js';
import type { LabConfig } from '../adapters/lab-config.js';
import { registry } from '../adapters/platforms.js';
import { Transcript } from '../evidence/transcript.js';
import { prereqRequirements } from '../requirements/prereqs.js';
import { requirements } from '../requirements/registry.js';

const automatable = requirements.filter((r) => r.verification !== 'manual').map((r) => r.id);
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** A platform's check may say '*' (every automatable requirement) and '!ID' (but not this one). */
function expandAffects(c: PreflightCheck): PreflightCheck {
  if (!c.affects.includes('*')) return c;
  const except = new Set(c.affects.filter((a) => a.startsWith('!')).map((a) => a.slice(1)));
  const named = c.affects.filter((a) => a !== '*' && !a.startsWith('!'));
  return { ...c, affects: [...new Set([...automatable.filter((id) => !except.has(id)), ...named])] };
}

export async function preflight(
  config: LabConfig,
  platform: string,
  runId: string,
  say: Say,
): Promise<PreflightReport> {
  const d = registry.descriptor(platform);
  const section = (config.platforms as Record<string, unknown>)[platform];
  const checks: PreflightCheck[] = [];
  const report: PreflightReport = { platform, endpoint: '', checks };
  let target: Awaited<ReturnType<typeof registry.connect>>;
  try {
    target = await registry.connect(platform, config.platforms, { runId, transcript: new Transcript(), log: say });
  } catch (e) {
    checks.push({
      name: 'connect with the configured credential',
      ok: false,
      detail: message(e),
      affects: automatable,
    });
    return report;
  }
  try {
    const info = await target.driver.platformInfo();
    report.endpoint = info.endpoint;
    checks.push({
      name: 'platform answers',
      ok: true,
      detail: `${info.product} ${info.version}${info.apiVersion ? ` (API ${info.apiVersion})` : ''}, guests on ${info.accel}`,
      affects: [],
    });
    const caps = await target.driver.capabilities();
    for (const [key, why] of Object.entries(caps.prereqMissing))
      checks.push({ name: `lab prerequisite: ${key}`, ok: false, detail: why, affects: prereqRequirements[key] ?? [] });
    if (caps.evidence !== 'real')
      checks.push({
        name: 'guests are real VMs',
        ok: false,
        detail: `evidence here is ${caps.evidence}: it proves the adapter and API path, never the platform`,
        affects: automatable,
      });
    if (d.preflight) checks.push(...(await d.preflight({ section, target })).map(expandAffects));
  } catch (e) {
    checks.push({ name: 'platform answers', ok: false, detail: message(e), affects: automatable });
  } finally {
    await target.driver.close();
  }
  return report;
}

/** Requirement IDs that a run could not give a verdict for, from the failed checks. */
export const notVerifiable = (r: PreflightReport): string[] =>
  [...new Set(r.checks.filter((c) => !c.ok).flatMap((c) => c.affects))].sort();
