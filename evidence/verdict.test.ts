import { describe, expect, it } from 'vitest';
import { combineOutcomes } from './verdict.js';

describe('combining outcomes of several tests of one requirement', () => {
  it('a failure anywhere wins', () => {
    expect(
      combineOutcomes([{ verdict: 'pass' }, { verdict: 'fail', reason: 'x' }, { verdict: 'prereq-missing' }]).verdict,
    ).toBe('fail');
  });
  it('pass plus unsupported is partial', () => {
    expect(combineOutcomes([{ verdict: 'pass' }, { verdict: 'unsupported', reason: 'no rename' }])).toMatchObject({
      verdict: 'partial',
    });
  });
  it('inconclusive outcomes win over a pass', () => {
    expect(combineOutcomes([{ verdict: 'pass' }, { verdict: 'prereq-missing' }]).verdict).toBe('prereq-missing');
  });
  it('no evidence is not-implemented, never pass', () => {
    expect(combineOutcomes([]).verdict).toBe('not-implemented');
  });
});
