import { expect, test } from 'vitest';
import { statusLine } from './lab.js';

test('lab status prints one line per lab from what it recorded', () => {
  expect(statusLine('nats', 'not brought up')).toBe('nats: not brought up');
  expect(
    statusLine('libvirt', {
      accel: 'tcg',
      prereqMissing: { vlan: 'no 802.1q', kvm: 'no nested KVM' },
      bringUp: { ms: 2607, at: '2026-12-07T00:11:59.176Z', cold: true },
    }),
  ).toBe('libvirt: brought up 2026-12-07T00:11:59.176Z in 2.6 s (cold); accel tcg; prerequisites missing: vlan, kvm');
  expect(statusLine('openstack', { port: 18780 })).toBe('openstack: brought up');
});
