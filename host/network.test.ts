import { describe, expect, test } from 'vitest';
import { withoutCarrier } from './network.js';

describe('host network snapshot', () => {
  test('a route differs only in configuration, not in its device carrier', () => {
    const down = { dst: '10.77.0.0/24', dev: 'br0', protocol: 'kernel', flags: ['linkdown', 'onlink'] };
    const up = { dst: '10.77.0.0/24', dev: 'br0', protocol: 'kernel', flags: ['onlink'] };
    expect(withoutCarrier(down)).toEqual(withoutCarrier(up));
    // A changed destination, device or other flag still shows.
    expect(withoutCarrier({ ...down, dst: '10.78.0.0/24' })).not.toEqual(withoutCarrier(up));
    expect(withoutCarrier({ ...down, flags: ['linkdown'] })).not.toEqual(withoutCarrier(up));
  });
});
