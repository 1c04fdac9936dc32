import { describe, expect, it } from 'vitest';
import { tally, tallyText } from './tally.js';
import { makeBundle } from './testkit.js';

describe('the verdict tally of a terminal summary', () => {
  it('never counts a simulated or container-only pass as a pass', () => {
    const b = makeBundle('incus', {
      'LC-01': { verdict: 'pass' },
      'LC-02': { verdict: 'pass', evidence: 'container-only' },
      'LC-03': { verdict: 'pass', evidence: 'container-only' },
      'LC-04': { verdict: 'pass', evidence: 'simulated' },
      'LC-05': { verdict: 'simulated', evidence: 'simulated' },
      'LC-06': { verdict: 'fail', evidence: 'container-only' },
    });
    expect(tally(b.requirements)).toEqual([
      ['pass', 1],
      ['fail', 1],
      ['simulated', 2],
      ['container-only', 2],
    ]);
    const line = tallyText(b.requirements);
    expect(line).toMatch(
      /^6 requirements: 1 pass, 1 fail, 2 simulated, 2 container-only \(simulated: .*; container-only: /,
    );
  });

  it('a simulator-only run reads as simulated, with no pass at all', () => {
    const b = makeBundle('proxmox', { 'LC-01': { verdict: 'simulated', evidence: 'simulated' } });
    expect(tallyText(b.requirements)).not.toMatch(/\bpass(ed)?\b/);
    expect(tallyText({})).toBe('0 requirements');
  });
});
