/** OpenStack preflight on what the real Zed lab answered an admin and a member-role credential. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { type PreflightObservations, preflightChecks } from './preflight.js';
import { errorMessage, parseToken } from './responses.js';

const dir = join(import.meta.dirname, 'fixtures');
// biome-ignore lint/suspicious/noExplicitAny: fixtures are untyped JSON
const rec = (f: string): { status: number; body: any } => JSON.parse(readFileSync(join(dir, `real-${f}.json`), 'utf8'));
const answer = (f: string) => {
  const r = rec(f);
  return { status: r.status, message: r.status < 300 ? '' : errorMessage(r.body, JSON.stringify(r.body)).message };
};
const services = { compute: '', image: '', network: '', volumev3: '', placement: '' };

describe('OpenStack preflight', () => {
  test('admin: every check passes', () => {
    const o: PreflightObservations = {
      roles: parseToken(rec('token-admin').body).roles,
      services,
      pinned: { compute: '2.93', volumev3: '3.70', placement: '1.39' },
      reads: {
        hypervisors: answer('hypervisors'),
        zones: answer('availability-zones'),
        aggregates: answer('aggregates'),
        services: answer('services'),
        flavors: answer('flavors-page1'),
        'storage-pools': answer('pools'),
      },
      networks: [{ name: 'vmc-net0', found: true, ownProject: true }],
      boot: 'volume',
      computeHosts: 1,
    };
    const checks = preflightChecks(o);
    expect(checks.filter((c) => !c.ok)).toEqual([]);
    expect(checks.find((c) => c.name.startsWith('resize on one'))?.detail).toContain('allow_resize_to_same_host');
  });

  test('member: the 403s name their rule, and the requirements they leave without a verdict', () => {
    const o: PreflightObservations = {
      roles: parseToken(rec('token-member').body).roles,
      services,
      pinned: {},
      reads: {
        hypervisors: answer('member-hypervisors'),
        placement: answer('member-placement-providers'),
        zones: answer('member-availability-zones-detail'),
        aggregates: answer('member-aggregates'),
        services: answer('member-services'),
        flavors: answer('member-flavors'),
        images: answer('member-glance-images'),
        networks: answer('member-neutron-networks'),
        volumes: answer('member-cinder-volumes'),
        'storage-pools': answer('member-cinder-pools'),
      },
      networks: [{ name: 'vmc-net0', found: true, ownProject: false }],
      boot: 'volume',
    };
    const failed = preflightChecks(o).filter((c) => !c.ok);
    const names = failed.map((c) => c.name);
    expect(names.some((n) => n.includes('/os-hypervisors/detail'))).toBe(true);
    expect(failed.find((c) => c.name.includes('/os-hypervisors'))?.detail).toContain(
      'os_compute_api:os-hypervisors:list-detail',
    );
    expect(failed.find((c) => c.name.includes('/resource_providers'))?.detail).toContain(
      'placement:resource_providers:list',
    );
    expect(failed.find((c) => c.name.includes('get_pools'))?.affects).toContain('STO-03');
    expect(failed.find((c) => c.name.includes('create flavors'))?.detail).toMatch(
      /roles: (member, reader|reader, member)/,
    );
    expect(failed.find((c) => c.name.includes('diagnostics'))?.affects).toEqual(['OPS-05']);
    expect(failed.some((c) => c.name.includes('MAC address'))).toBe(true);
    // What a member may read is not listed as missing.
    expect(names.some((n) => n.includes('/v2/images') || n.includes('/flavors/detail'))).toBe(false);
  });

  test('a missing service or microversion is a failed check with the requirements it carries', () => {
    const o: PreflightObservations = {
      roles: ['admin'],
      services: {
        ...services,
        volumev3: "the Keystone catalog has no 'block-storage' or 'volumev3' or 'volume' service",
      },
      pinned: {},
      reads: {},
      networks: [],
      boot: 'image',
    };
    const c = preflightChecks(o).find((x) => !x.ok);
    expect(c?.name).toBe('service block-storage');
    expect(c?.affects).toContain('DSK-01');
    expect(c?.affects).not.toContain('LC-01');
  });

  test('a cinder-backup service that is down leaves the backup requirements without a verdict', () => {
    const o: PreflightObservations = {
      roles: ['admin'],
      services,
      pinned: {},
      reads: {},
      networks: [],
      boot: 'volume',
      backupServices: rec('backup-services-down').body.services,
    };
    const c = preflightChecks(o).find((x) => x.name === 'service cinder-backup running');
    expect(c).toMatchObject({ ok: false, affects: ['STO-01', 'MDC-03', 'MDC-04'] });
    expect(c?.detail).toBe('registered but not serving: vm enabled/down');
  });
});
