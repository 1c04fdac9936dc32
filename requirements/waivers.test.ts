import { describe, expect, test } from 'vitest';
import { ConfigInvalid } from '../evidence/errors.js';
import { isExpired, parseWaivers, waiverFor } from './waivers.js';

const file = `waivers:
  - platform: incus
    requirement: INT-01
    reason: drops empty values
    owner: lab team
    expires: 2027-06-30
  - platform: libvirt
    requirement: LC-99
    reason: x
    owner: y
    expires: 2027-02-30
    colour: red
`;
const fail = { verdict: 'fail', reasonCode: 'check-failed', reason: 'empty value lost' } as const;

describe('waivers', () => {
  test('a waiver file is checked like the other inputs: file, line and field of each problem', () => {
    let err: unknown;
    try {
      parseWaivers(file, 'w.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigInvalid);
    const msg = (err as Error).message;
    expect(msg).toContain('w.yaml:8: waivers.1.requirement: a requirement id of the registry');
    expect(msg).toContain('w.yaml:11: waivers.1.expires: not a calendar date');
    expect(msg).toContain('w.yaml:12: waivers.1.colour: not a known field here');
  });

  test('an expired waiver stops applying: an active one wins, and after its last day it is reported expired', () => {
    const [w] = parseWaivers(file.split('  - platform: libvirt')[0] as string, 'w.yaml');
    const list = [w as NonNullable<typeof w>];
    expect(waiverFor(list, 'incus', ['INT-01'], fail, new Date('2027-06-30T23:59:00Z'))).toMatchObject({
      expired: false,
    });
    expect(waiverFor(list, 'incus', ['INT-01'], fail, new Date('2027-07-01T00:00:00Z'))).toMatchObject({
      expired: true,
    });
    expect(isExpired({ expires: '2027-06-30' }, new Date('2027-07-01T00:00:00Z'))).toBe(true);
    // A pass needs none; another platform or requirement is not covered; `match` narrows to one failure.
    expect(waiverFor(list, 'incus', ['INT-01'], { verdict: 'pass' }, new Date('2027-01-01'))).toBeUndefined();
    expect(waiverFor(list, 'libvirt', ['INT-01'], fail, new Date('2027-01-01'))).toBeUndefined();
    const narrow = [{ ...list[0], match: '^timeout: ' } as NonNullable<typeof w>];
    expect(waiverFor(narrow, 'incus', ['INT-01'], fail, new Date('2027-01-01'))).toBeUndefined();
  });
});
