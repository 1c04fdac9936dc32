import { describe, expect, it } from 'vitest';
import { parseLabConfig } from '../adapters/lab-config.js';
import { isLab, labsFor } from './labs.js';

describe('labsFor', () => {
  it('brings up the NATS lab only when the config has a local nats section', () => {
    const plain = parseLabConfig('platforms:\n  libvirt: {}\n', 'a.yaml');
    expect(labsFor(plain, ['libvirt'])).toEqual(['libvirt']);
    const withNats = parseLabConfig('nats: {}\nplatforms:\n  libvirt: {}\n', 'a.yaml');
    expect(labsFor(withNats, ['libvirt'])).toEqual(['libvirt', 'nats']);
    const external = parseLabConfig('nats:\n  local: false\nplatforms:\n  libvirt: {}\n', 'a.yaml');
    expect(labsFor(external, ['libvirt'])).toEqual(['libvirt']);
    expect(isLab('nats')).toBe(true);
  });
});
