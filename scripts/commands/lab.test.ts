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
  expect(statusLine('proxmox', { port: 18006 })).toBe('proxmox: brought up');
  expect(
    statusLine('openstack', {
      accel: 'tcg',
      services: [
        { name: 'keystone', pid: 14304, running: true, rssKiB: 148_480 },
        { name: 'nova-api', pid: 14404, running: false },
      ],
      totalRssKiB: 4_928_307,
    }),
  ).toBe(
    'openstack: brought up; accel tcg; 1/2 services running, 4813 MiB RSS with helpers' +
      '\n  keystone                     14304 running   145 MiB' +
      '\n  nova-api                     14404 stopped',
  );
});
