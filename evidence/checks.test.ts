import { describe, expect, it } from 'vitest';
import { CheckFailed, Checks } from './checks.js';
import { Conflict, PrereqMissing, Timeout, Unsupported } from './errors.js';

describe('aggregate checks', () => {
  it('passes only when every check held', () => {
    const c = new Checks();
    c.eq('a', 1, 1);
    c.ok('b', true);
    expect(c.outcome()).toEqual({ verdict: 'pass' });
  });

  it('reports every failed check, not only the first', () => {
    const c = new Checks();
    c.eq('mac', 'x', 'y');
    c.ok('seen by guest', false, 'no STATE line');
    c.eq('fine', 2, 2);
    const o = c.outcome();
    expect(o.verdict).toBe('fail');
    expect(o.reason).toContain("mac: expected 'y', got 'x'");
    expect(o.reason).toContain('seen by guest: no STATE line');
  });

  it('a test that checked nothing is a harness error, never a pass', () => {
    expect(new Checks().outcome().verdict).toBe('error');
  });

  it('an unsupported sub-check beside passing ones is partial, alone it is unsupported', () => {
    const c = new Checks();
    c.ok('id after reboot', true);
    c.unsupported('rename', 'no rename');
    expect(c.outcome().verdict).toBe('partial');
    const d = new Checks();
    d.unsupported('task handle', 'none');
    expect(d.outcome()).toMatchObject({ verdict: 'unsupported', reason: 'task handle: none' });
  });

  it('maps thrown errors: platform unsupported vs adapter gap, prereq, timeout, harness bug', () => {
    const c = new Checks();
    expect(c.outcomeFromError(new Unsupported('no hotplug')).verdict).toBe('unsupported');
    expect(c.outcomeFromError(new Unsupported('not written yet', 'adapter')).verdict).toBe('not-implemented');
    expect(c.outcomeFromError(new PrereqMissing('no 802.1q')).verdict).toBe('prereq-missing');
    expect(c.outcomeFromError(new Timeout('waited', 1000))).toMatchObject({ verdict: 'fail', reasonCode: 'timeout' });
    expect(c.outcomeFromError(new Conflict('already running'))).toMatchObject({
      verdict: 'fail',
      reasonCode: 'platform-conflict',
    });
    expect(c.outcomeFromError(new TypeError('x is undefined'))).toMatchObject({
      verdict: 'error',
      reasonCode: 'harness-error',
    });
  });

  it('must() stops the test and the failure is kept', () => {
    const c = new Checks();
    expect(() => c.must('volume exists', false, 'gone')).toThrow(CheckFailed);
    expect(c.outcomeFromError(new CheckFailed('x')).reason).toContain('volume exists: gone');
  });
});
