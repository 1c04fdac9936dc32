/** Constructed bundles for unit tests of the scorer and the renderers (not used at run time). */
import { type Bundle, type BundleTest, bundleSchemaVersion, type EvidenceKind } from './bundle.js';
import { summarise } from './results.js';
import type { Verdict } from './verdict.js';

export interface Spec {
  verdict: Verdict;
  evidence?: EvidenceKind;
  reason?: string;
}

export function testOf(id: string, s: Spec, n = 1): BundleTest {
  const pass = s.verdict === 'pass';
  return {
    id: `suites/x.conformance.ts#${n}`,
    file: 'suites/x.conformance.ts',
    title: `${id} constructed`,
    requirements: [id],
    state: pass ? 'passed' : s.verdict === 'fail' || s.verdict === 'error' ? 'failed' : 'skipped',
    outcome: pass
      ? { verdict: 'pass' }
      : { verdict: s.verdict, reasonCode: 'constructed', reason: s.reason ?? `${id} constructed ${s.verdict}` },
    checks: [{ name: `${id} check`, ok: pass, ...(pass ? {} : { expected: 1, actual: 2 }) }],
    timings: [
      { op: 'start', kind: 'op', acceptedMs: 5 * n, doneMs: 400 + 10 * n, handle: { kind: 'none', id: null } },
      { op: 'start-to-guest-ready', kind: 'phase', acceptedMs: 2700 + n, doneMs: 2700 + n },
    ],
    transcript: [
      {
        seq: n,
        at: '2026-11-25T00:00:00.000Z',
        kind: 'command',
        request: `virsh start vmc-${n}`,
        response: 'Domain started',
        ok: true,
        durationMs: 400,
        taskId: null,
      },
    ],
    timeline: [
      { at: '2026-11-25T00:00:00.000Z', vm: `vmc-${n}`, op: 'create', ok: true },
      { at: '2026-11-25T00:00:01.000Z', vm: `vmc-${n}`, op: 'start', ok: true },
      { at: '2026-11-25T00:00:02.000Z', vm: `vmc-${n}`, op: 'inspect', ok: true, power: 'running' },
    ],
    evidence: s.evidence ?? 'real',
    startedAt: '2026-11-25T00:00:00.000Z',
    durationMs: 1000,
  };
}

/** A bundle with one test per requirement in `specs`. */
export function makeBundle(
  platform: Bundle['platform'],
  specs: Record<string, Spec>,
  over: Partial<Bundle> = {},
): Bundle {
  const tests = Object.entries(specs).map(([id, s], i) => testOf(id, s, i + 1));
  const evidence = Object.values(specs).some((s) => s.evidence === 'simulated') ? 'simulated' : 'real';
  return {
    schemaVersion: bundleSchemaVersion,
    runId: '20261125t0000-abcd',
    platform,
    complete: true,
    startedAt: '2026-11-25T00:00:00.000Z',
    endedAt: '2026-11-25T00:04:00.000Z',
    harness: { version: '0.1.0', commit: '0123456789abcdef' },
    configHash: 'c0ffee',
    facts: {
      info: {
        platform,
        product: platform,
        version: '9.0.0',
        accel: evidence === 'simulated' ? 'simulated' : 'tcg',
        endpoint: 'qemu:///system',
      },
      hosts: [{ id: 'host-1', name: 'lab-host', site: 'site-a' }],
      capabilities: { evidence, instanceType: 'vm' },
    },
    ...summarise(tests),
    leaks: { before: [], after: [], remaining: [] },
    tests,
    ...over,
  };
}

/** Every auto/lab requirement passing with real evidence. */
export function allPass(ids: string[]): Record<string, Spec> {
  return Object.fromEntries(ids.map((id) => [id, { verdict: 'pass' as const }]));
}
