import { describe, expect, it } from 'vitest';
import { CheckFailed, Checks, provenKinds, requireProof } from './checks.js';
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

describe('proof kinds', () => {
  it('each view records its kind on the shared list; plain checks are api read-backs', () => {
    const c = new Checks();
    c.eq('vcpus', 2, 2);
    c.guest.ok('guest READY', true);
    c.event.ok('start event', true);
    c.host.eq('bridge', 'a', 'a');
    c.guest.unobservable('firmware', 'a container has no firmware');
    expect(c.list.map((x) => x.proof)).toEqual(['api', 'guest', 'event', 'host', 'guest']);
    expect(c.guest.list).toBe(c.list);
    expect(provenKinds(c.list)).toEqual(['api', 'event', 'guest', 'host']);
    // Unobservable is recorded, never scored.
    expect(c.outcome()).toEqual({ verdict: 'pass' });
  });

  it('a declared property failed in the guest names the property, the declared and the guest value', () => {
    const c = new Checks();
    c.guest.declared('memory (MiB)', 320, 160, 'firmware map: 163840 KiB of RAM');
    expect(c.outcome().reason).toBe(
      'Failed checks: memory (MiB): declared vs guest: declared 320, got 160 (firmware map: 163840 KiB of RAM)',
    );
  });

  it('a pass proven by the API alone is partial where the requirement needs guest proof', () => {
    const c = new Checks();
    c.eq('memoryMiB', 320, 320);
    expect(requireProof(c.outcome(), c.list, ['api', 'guest'])).toEqual({
      verdict: 'partial',
      reasonCode: 'proof-missing',
      reason: 'Passed, but proven by api only: the requirement also needs guest proof.',
    });
    expect(requireProof({ verdict: 'fail', reason: 'x' }, c.list, ['guest']).verdict).toBe('fail');
    c.guest.eq('guest memory', 320, 320);
    expect(requireProof(c.outcome(), c.list, ['api', 'guest'])).toEqual({ verdict: 'pass' });
  });
});
