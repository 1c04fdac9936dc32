import { describe, expect, test } from 'vitest';
import { classifyFinding, knownFindings } from './known-findings.js';
import { requirements } from './registry.js';
import type { Waiver } from './waivers.js';

const finding: Waiver = {
  platform: 'incus',
  requirement: 'INT-01',
  match: 'check-failed: .*empty',
  reason: 'drops empty values',
  owner: 'lab team',
  observed: '2026-11-25',
  expires: '2027-06-30',
};
const today = new Date('2026-12-07T12:00:00Z');
const fail = { verdict: 'fail', reasonCode: 'check-failed', reason: 'Failed checks: empty value kept' } as const;

describe('known findings', () => {
  test('a listed fail on its platform is known, with the reason in the message', () => {
    const d = classifyFinding([finding], 'incus', ['INT-01', 'INT-02'], fail, today);
    expect(d.kind).toBe('known');
    expect(d.kind === 'known' && d.message).toMatch(
      /^known platform finding: incus INT-01 .*waived until 2027-06-30 by lab team.*drops empty values/,
    );
  });

  test('an expired waiver stops applying: the fail fails again and the message says the waiver expired', () => {
    expect(classifyFinding([finding], 'incus', ['INT-01'], fail, new Date('2027-06-30T23:00:00Z')).kind).toBe('known');
    const d = classifyFinding([finding], 'incus', ['INT-01'], fail, new Date('2027-07-01T00:00:00Z'));
    expect(d.kind).toBe('expired');
    expect(d.kind === 'expired' && d.message).toMatch(/waiver expired on 2027-06-30 \(owner lab team\)/);
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
      expect(f.reason.length).toBeGreaterThan(20);
      expect(f.observed).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      // Matched on the reason, so a different failure of the same requirement still fails.
      expect(f.match).toBeDefined();
    }
  });
});
