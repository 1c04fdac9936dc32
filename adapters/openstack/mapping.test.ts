import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseConsole } from '../../host/guest/report.js';
import { AuthFailed, Conflict, NotFound, PlatformError, PrereqMissing } from '../contract/index.js';
import {
  actionStatus,
  attachedDisks,
  attachedNics,
  type CinderVolume,
  failureDomainOfHost,
  GiB,
  mapPower,
  type NeutronNetwork,
  type NovaServer,
  ownerOf,
  toHost,
  toImage,
  toStoragePool,
  toVmMetrics,
  toVolume,
  userMetadata,
  zoneOfHost,
} from './mapping.js';
import { endpointFor, errorFor, errorMessage, faultError, negotiateMicroversion, parseToken } from './responses.js';

const dir = join(import.meta.dirname, '../../fixtures/openstack');
const text = (f: string) => readFileSync(join(dir, f), 'utf8');
// biome-ignore lint/suspicious/noExplicitAny: fixtures are untyped JSON
const fx = (f: string): any => JSON.parse(text(f));

describe('Keystone (recorded from a real Keystone 22)', () => {
  test('password token: expiry, project and a catalog with the identity endpoint', () => {
    const t = parseToken(fx('keystone-token-password.json'));
    expect(t.methods).toEqual(['password']);
    expect(t.expiresAt).toBeGreaterThan(Date.parse('2026-01-01'));
    expect(t.projectId).toMatch(/^[0-9a-f]{32}$/);
    expect(endpointFor(t.catalog, 'identity', 'public', 'RegionOne')).toBe('http://127.0.0.1:15000/v3');
  });

  test('application credential token parses the same way', () => {
    const t = parseToken(fx('keystone-token-appcred.json'));
    expect(t.methods).toEqual(['application_credential']);
    expect(t.catalog.length).toBeGreaterThan(0);
  });

  test('a service missing from the catalog is a NotFound naming what the catalog has', () => {
    const t = parseToken(fx('keystone-token-password.json'));
    expect(() => endpointFor(t.catalog, 'compute', 'public')).toThrow(/no 'compute' service \(has: identity\)/);
    expect(() => endpointFor(t.catalog, 'identity', 'internal')).toThrow(NotFound);
  });

  test('401 body: AuthFailed carrying Keystone message', () => {
    const e = errorFor(401, fx('keystone-error-401.json'), '', 'POST /auth/tokens');
    expect(e).toBeInstanceOf(AuthFailed);
    expect(e.message).toContain('requires authentication');
  });
});

describe('microversions', () => {
  test('pins the preferred version when the server offers it, else the server maximum', () => {
    const doc = fx('sim-compute-versions.json');
    expect(negotiateMicroversion(doc, '2.79', '2.90').pinned).toBe('2.90');
    expect(negotiateMicroversion(doc, '2.79', '2.99')).toEqual({ pinned: '2.93', serverMin: '2.1', serverMax: '2.93' });
    expect(negotiateMicroversion(fx('sim-volume-versions.json'), '3.47', '3.70').pinned).toBe('3.70');
    expect(negotiateMicroversion(fx('sim-placement-versions.json'), '1.10', '1.39').pinned).toBe('1.39');
  });

  test('a server below what the adapter needs is refused with both numbers', () => {
    const old = { versions: [{ id: 'v2.1', status: 'CURRENT', version: '2.60', min_version: '2.1' }] };
    expect(() => negotiateMicroversion(old, '2.79', '2.93')).toThrow(/maximum microversion 2.60 is below the 2.79/);
  });
});

describe('error bodies of every service', () => {
  test.each([
    ['sim-error-nova-404.json', 404, NotFound, /itemNotFound: Instance 0{8}-.* could not be found/],
    [
      'sim-error-start-conflict.json',
      409,
      Conflict,
      /conflictingRequest: Cannot 'os-start' instance .* vm_state active/,
    ],
    ['sim-error-nova-bad-image.json', 400, PlatformError, /badRequest: Flavor nope could not be found/],
    ['sim-error-volume-extend.json', 404, NotFound, /itemNotFound: Volume .* could not be found/],
    ['sim-error-neutron-404.json', 404, NotFound, /NetworkNotFound: Network .* could not be found/],
    ['sim-error-placement-404.json', 404, NotFound, /placement.undefined_code: No resource provider/],
  ])('%s -> typed error with the platform message', (file, status, kind, re) => {
    const e = errorFor(status, fx(file), text(file), 'GET /x');
    expect(e).toBeInstanceOf(kind);
    expect(e.message).toMatch(re);
  });

  test('Glance HTML error page keeps its text', () => {
    const html = text('sim-error-glance-404.txt');
    expect(errorMessage(html, html).message).toBe(
      '404 Not Found No image found with ID 00000000-0000-0000-0000-000000000000',
    );
    expect(errorFor(404, html, html, 'GET /v2/images/x')).toBeInstanceOf(NotFound);
  });

  test('Glance refusing a protected image is a Conflict, other 403s are policy refusals (not auth errors)', () => {
    expect(errorFor(403, 'x', 'Image 1 is protected and cannot be deleted.', 'DELETE')).toBeInstanceOf(Conflict);
    expect(errorFor(403, { forbidden: { code: 403, message: 'Policy does not allow' } }, '', 'GET')).toBeInstanceOf(
      PrereqMissing,
    );
  });
});

describe('Nova servers', () => {
  const active: NovaServer = fx('sim-server-active.json').server;
  const shutoff: NovaServer = fx('sim-server-shutoff.json').server;

  test('status/task_state/power_state onto contract power states, raw state kept', () => {
    expect(mapPower(active)).toEqual({ power: 'running', raw: 'ACTIVE vm_state=active task_state=none power_state=1' });
    expect(mapPower(shutoff).power).toBe('stopped');
    expect(mapPower({ ...active, 'OS-EXT-STS:task_state': 'powering-off' }).power).toBe('transitioning');
    // ERROR is a failed operation: the guest is what power_state says.
    expect(mapPower({ ...active, status: 'ERROR' }).power).toBe('running');
    expect(mapPower({ ...active, status: 'ERROR', 'OS-EXT-STS:power_state': 0 }).power).toBe('stopped');
    expect(mapPower({ ...active, status: 'ERROR', 'OS-EXT-STS:power_state': 6 }).power).toBe('crashed');
    expect(mapPower({ ...active, status: 'HARD_REBOOT' }).power).toBe('transitioning');
  });

  test('ownership metadata is recognised and hidden from the caller metadata', () => {
    expect(ownerOf(active.metadata)).toMatchObject({ marker: 'vmconform', runId: '20261125t0000-f1f1' });
    expect(userMetadata(active.metadata)).toEqual({ tenant: 'acme', project: 'web', environment: 'prod' });
    expect(ownerOf({ 'vmconform:run': 'x' })).toBeUndefined();
  });

  test('a server fault becomes a typed error with Nova code and message verbatim', () => {
    const s: NovaServer = fx('sim-server-error-fault.json').server;
    expect(s.status).toBe('ERROR');
    const e = faultError(s.name, s.fault);
    expect(e).toBeInstanceOf(PlatformError);
    expect(e.platformCode).toBe('nova-fault-500');
    expect(e.platformMessage).toBe('No valid host was found. There are not enough hosts available.');
    expect(faultError('x', undefined).message).toMatch(/without a fault/);
  });

  test('disks in device order; serial is what the guest sees (volume id, 20 bytes)', () => {
    const atts = fx('sim-volume-attachments.json').volumeAttachments;
    const vols = new Map<string, CinderVolume>(
      (fx('sim-volumes.json').volumes as CinderVolume[]).map((v) => [v.id, v]),
    );
    const disks = attachedDisks(atts, vols);
    expect(disks.map((d) => [d.target, d.role, d.sizeBytes])).toEqual([
      ['vda', 'boot', GiB],
      ['vdb', 'data', GiB],
    ]);
    for (const d of disks) {
      expect(d.serial).toBe(d.id.slice(0, 20));
      expect(d.volumeId).toBe(`sim-cinder@lvm#lvm/${d.id}`);
    }
    // The guest reports the same serials on its console.
    const state = parseConsole(fx('sim-console-output.json').output).events.find((e) => e.kind === 'state');
    expect(state?.kind === 'state' && state.disks.map((d) => d.serial)).toEqual(disks.map((d) => d.serial));
  });

  test('NICs in os-interface order with networks, VLAN ids and the external provider network', () => {
    const ifaces = fx('sim-interface-attachments.json').interfaceAttachments;
    const nets = new Map<string, NeutronNetwork>(
      (fx('sim-networks.json').networks as NeutronNetwork[]).map((n) => [n.id, n]),
    );
    const nics = attachedNics(ifaces, nets, {});
    expect(nics.map((n) => [n.index, n.mac, n.network, n.vlan])).toEqual([
      [0, '52:54:00:aa:00:01', 'vmc-net1', 101],
      [1, '52:54:00:aa:00:02', 'vmc-net2', 102],
    ]);
    const ext = attachedNics(ifaces, nets, { networkId: ifaces[1].net_id, bridge: 'vmc-ext0' });
    expect([ext[1]?.network, ext[1]?.external]).toEqual(['vmc-ext0', true]);
  });

  test('instance actions as tasks', () => {
    const a = fx('sim-instance-action-create.json').instanceAction;
    expect(actionStatus(a)).toMatchObject({ status: 'succeeded' });
    expect(actionStatus({ ...a, events: [{ ...a.events[0], finish_time: null, result: null }] }).status).toBe(
      'running',
    );
    const failed = actionStatus({ ...a, message: 'Error', events: [{ ...a.events[0], result: 'Error' }] });
    expect(failed).toMatchObject({ status: 'failed', error: 'compute__do_build_and_run_instance: Error' });
  });

  test('diagnostics map onto metrics, disks named by device order', () => {
    const m = toVmMetrics(fx('sim-diagnostics.json'), ['vda', 'vdb']);
    expect(m.cpuTimeNs).toBeGreaterThan(0);
    expect(m.memoryBytes).toBeGreaterThan(0);
    expect(m.disks.map((d) => d.target)).toEqual(['vda', 'vdb']);
    expect(m.nics.map((n) => n.name)).toEqual(['52:54:00:aa:00:01', '52:54:00:aa:00:02']);
  });
});

describe('Cinder, Glance, hosts', () => {
  test('volumes: pool-qualified id, size, backing image, attached-to, owner', () => {
    const vols = (fx('sim-volumes.json').volumes as CinderVolume[]).map(toVolume);
    const boot = vols.find((v) => v.backing);
    expect(boot?.sizeBytes).toBe(GiB);
    expect(boot?.attachedTo).toHaveLength(1);
    expect(vols.find((v) => v.owner)?.owner?.runId).toBe('20261125t0000-f1f1');
  });

  test('pools: capacity, allocation and free space in bytes', () => {
    const [p] = fx('sim-pools.json').pools.map(toStoragePool);
    expect(p.name).toBe('sim-cinder@lvm#lvm');
    expect(p.capacityBytes).toBe(100 * GiB);
    expect(p.allocationBytes + p.availableBytes).toBe(p.capacityBytes);
    expect(
      toStoragePool({ name: 'x', capabilities: { total_capacity_gb: 'infinite', free_capacity_gb: 'infinite' } })
        .capacityBytes,
    ).toBe(0);
  });

  test('images: Glance multihash as the checksum; operator images carry no owner', () => {
    const [img] = fx('sim-images.json').images.map(toImage);
    expect(img.checksum?.algorithm).toBe('sha512');
    expect(img.checksum?.value).toMatch(/^[0-9a-f]{128}$/);
    expect(img.version).toBe('v1');
    expect(img.owner).toBeUndefined();
  });

  test('images published by the harness: the name without the -<version> suffix Glance holds', () => {
    const base = fx('sim-images.json').images[0];
    const img = toImage({ ...base, name: 'vmc-x-img2-2', vmconform_version: '2' });
    expect([img.name, img.version]).toEqual(['vmc-x-img2', '2']);
    expect(toImage({ ...base, name: 'plain', vmconform_version: '2' }).name).toBe('plain');
  });

  test('host: Placement capacity (total - reserved) x ratio, usage, zone and failure domain', () => {
    const hyp = fx('sim-hypervisors.json').hypervisors[0];
    const host = toHost({
      hypervisor: hyp,
      inventories: fx('sim-placement-inventories.json').inventories,
      usages: fx('sim-placement-usages.json').usages,
      site: zoneOfHost(fx('sim-availability-zones.json'), hyp.service.host),
      failureDomain: failureDomainOfHost(fx('sim-aggregates.json'), hyp.service.host),
    });
    expect(host.capacity).toEqual({ cpus: 32, memoryBytes: (16384 - 512) * 1024 ** 2, storageBytes: 200 * GiB });
    expect(host.allocated.cpus).toBe(1);
    expect([host.site, host.failureDomain]).toEqual(['nova', 'sim-rack-1']);
    // A server names its host by the compute service host: the host id is that name.
    expect(host.id).toBe(hyp.service.host);
  });
});
