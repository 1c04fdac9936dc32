import { describe, expect, test } from 'vitest';
import { classifyFinding, type KnownFinding, knownFindings } from './known-findings.js';
import { requirements } from './registry.js';

const finding: KnownFinding = {
  platform: 'incus',
  requirement: 'INT-01',
  reason: /check-failed: .*empty/,
  why: 'drops empty values',
  observed: '2026-11-25',
};
const fail = { verdict: 'fail', reasonCode: 'check-failed', reason: 'Failed checks: empty value kept' } as const;

describe('known findings', () => {
  test('a listed fail on its platform is known, with the reason in the message', () => {
    const d = classifyFinding([finding], 'incus', ['INT-01', 'INT-02'], fail);
    expect(d.kind).toBe('known');
    expect(d.kind === 'known' && d.message).toMatch(/^known platform finding: incus INT-01 .*drops empty values/);
  });

  test('a listed finding that passes (or passes simulated) is stale', () => {
    expect(classifyFinding([finding], 'incus', ['INT-01'], { verdict: 'pass' }).kind).toBe('stale');
    expect(classifyFinding([finding], 'incus', ['INT-01'], { verdict: 'simulated' }).kind).toBe('stale');
  });

  test('another failure of the same requirement, another platform or requirement is not covered', () => {
    const other = { verdict: 'fail', reasonCode: 'timeout', reason: 'no answer' } as const;
    expect(classifyFinding([finding], 'incus', ['INT-01'], other).kind).toBe('none');
    expect(classifyFinding([finding], 'libvirt', ['INT-01'], fail).kind).toBe('none');
    expect(classifyFinding([finding], 'incus', ['INT-02'], fail).kind).toBe('none');
    expect(classifyFinding([finding], 'incus', ['INT-01'], { ...fail, verdict: 'error' }).kind).toBe('none');
  });

  test('an inconclusive outcome of a listed requirement stays what it is', () => {
    const d = classifyFinding([finding], 'incus', ['INT-01'], {
      verdict: 'prereq-missing',
      reasonCode: 'lab-prereq',
      reason: 'x',
    });
    expect(d.kind).toBe('none');
  });

  test('the Incus INT-01 entry matches the recorded failure and nothing broader', () => {
    const meta = "{ 'sentral-id': 'vm-1', spaces: '  x  ', empty: '' }";
    const back = "{ 'sentral-id': 'vm-1', spaces: '  x  ' }";
    const reason = `Failed checks: returned verbatim: expected ${meta}, got ${back}; verbatim after start and stop: expected ${meta}, got ${back}`;
    const out = { verdict: 'fail', reasonCode: 'check-failed', reason } as const;
    expect(classifyFinding(knownFindings, 'incus', ['INT-01'], out).kind).toBe('known');
    // The empty value came back (something else failed), or another check failed too: not this finding.
    const kept = reason.replaceAll(back, meta);
    expect(classifyFinding(knownFindings, 'incus', ['INT-01'], { ...out, reason: kept }).kind).toBe('none');
    expect(classifyFinding(knownFindings, 'incus', ['INT-01'], { ...out, reason: `${reason}; ids differ` }).kind).toBe(
      'none',
    );
  });

  test('the list names real requirements, real platforms only, with a reason and a date', () => {
    const ids = new Set(requirements.map((r) => r.id));
    for (const f of knownFindings) {
      expect(ids.has(f.requirement), f.requirement).toBe(true);
      expect(f.why.length).toBeGreaterThan(20);
      expect(f.observed).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
  });
});
