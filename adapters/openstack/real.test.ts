/**
 * The adapter's parsing on payloads recorded from a real OpenStack Zed cloud (the lab's all-in-one,
 * adapters/openstack/fixtures/real-*.json, re-recorded by `scripts/record-openstack-fixtures.ts --real`).
 * Each test names the real behaviour it pins.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseConsole } from '../../host/guest/report.js';
import { PlatformError, PrereqMissing } from '../contract/index.js';
import { backupHeads, type RawBackup } from './backups.js';
import {
  consoleSinceCreate,
  directBootProps,
  domainDiskOrder,
  type GlanceImage,
  type InstanceAction,
  localRootDisk,
  mapPower,
  type NovaServer,
  resizeFailure,
  toVmMetrics,
  zoneOfHost,
} from './mapping.js';
import {
  catalogTypes,
  endpointFor,
  errorFor,
  negotiateMicroversion,
  nextPage,
  parseToken,
  policyRule,
  serviceBase,
  versionRoot,
} from './responses.js';

const dir = join(import.meta.dirname, 'fixtures');
// biome-ignore lint/suspicious/noExplicitAny: fixtures are untyped JSON
const rec = (f: string): { status: number; body: any } => JSON.parse(readFileSync(join(dir, `real-${f}.json`), 'utf8'));

describe('catalog and versions (real Keystone 22, Cinder 21, Glance 25, Nova 26)', () => {
  const catalog = parseToken(rec('token-admin').body).catalog;

  test('block storage is registered as block-storage, with the project id in the URL', () => {
    expect(catalog.some((s) => s.type === 'volumev3')).toBe(false);
    const url = endpointFor(catalog, [...catalogTypes.volumev3], 'public', 'RegionOne');
    expect(url).toMatch(/\/v3\/[0-9a-f]{32}$/);
    expect(serviceBase('volumev3', url)).toBe(url);
    expect(versionRoot('volumev3', url)).toMatch(/:\d+\/$/);
  });

  test('volumev3 and volume still match, and a URL without project id or version is completed', () => {
    const cat = (type: string, url: string) => [{ type, endpoints: [{ interface: 'public', url }] }];
    expect(endpointFor(cat('volumev3', 'http://c/v3/p'), [...catalogTypes.volumev3], 'public')).toBe('http://c/v3/p');
    expect(endpointFor(cat('volume', 'http://c/v3'), [...catalogTypes.volumev3], 'public')).toBe('http://c/v3');
    expect(serviceBase('volumev3', 'http://c:8776/')).toBe('http://c:8776/v3');
    expect(serviceBase('volumev3', 'http://c/volume/v3')).toBe('http://c/volume/v3');
    expect(versionRoot('volumev3', 'http://c/volume/v3')).toBe('http://c/volume/');
  });

  test('Neutron and Glance are registered without a version; paths carry it, so a versioned URL is trimmed', () => {
    const net = endpointFor(catalog, [...catalogTypes.network], 'public');
    expect(net).toMatch(/:\d+$/);
    expect(serviceBase('network', net)).toBe(net);
    expect(serviceBase('network', `${net}/v2.0/`)).toBe(net);
    expect(serviceBase('image', 'http://g:9292/v2')).toBe('http://g:9292');
    expect(serviceBase('compute', 'http://n:8774')).toBe('http://n:8774/v2.1');
    expect(serviceBase('compute', endpointFor(catalog, [...catalogTypes.compute], 'public'))).toMatch(/\/v2\.1$/);
  });

  test("Cinder's root answers 300 Multiple Choices with a document that negotiates", () => {
    const r = rec('versions-volume-root');
    expect(r.status).toBe(300);
    expect(negotiateMicroversion(r.body, '3.47', '3.70')).toEqual({
      pinned: '3.70',
      serverMin: '3.0',
      serverMax: '3.70',
    });
  });

  test("Glance's root answers 300 too; Nova's root and /v2.1 and Placement's root answer 200", () => {
    expect(rec('versions-image-root').status).toBe(300);
    expect(negotiateMicroversion(rec('versions-compute-root').body, '2.79', '2.93').pinned).toBe('2.93');
    expect(negotiateMicroversion(rec('versions-compute-v2.1').body, '2.79', '2.90').pinned).toBe('2.90');
    expect(negotiateMicroversion(rec('versions-placement-root').body, '1.10', '1.39').serverMax).toBe('1.39');
    // Cinder's versioned endpoint is no version document (404 HTML): the root is the only source.
    expect(rec('versions-volume-v3').status).toBe(404);
  });
});

describe('paging (every list is paged)', () => {
  test('Nova flavors and Cinder volumes give <key>_links rel=next with absolute URLs; the path is kept', () => {
    const f = rec('flavors-page1').body;
    expect(nextPage(f, 'flavors', 'http://127.0.0.1:28774/v2.1')).toMatch(/^\/flavors\/detail\?limit=1&marker=/);
    const v = rec('volumes-page1').body;
    const base = v.volumes_links[0].href.replace(/\/volumes\/detail.*/, '');
    expect(nextPage(v, 'volumes', base)).toMatch(/^\/volumes\/detail\?limit=1&marker=/);
    // Behind a proxy the link may name another host: only the path is followed.
    expect(nextPage(v, 'volumes', base.replace('127.0.0.1', 'cloud.example'))).toMatch(/^\/volumes\/detail\?/);
  });

  test('Nova servers page the same way', () => {
    const s = rec('servers-page1').body;
    expect(s.servers).toHaveLength(1);
    const next = nextPage(s, 'servers', 'http://127.0.0.1:28774/v2.1');
    if (s.servers_links) expect(next).toMatch(/^\/servers\/detail\?/);
  });

  test('Glance gives `next`, a path from its root, and no link on the last page', () => {
    const p1 = rec('images-page1').body;
    expect(p1.images).toHaveLength(1);
    expect(nextPage(p1, 'images', 'http://127.0.0.1:29292')).toMatch(/^\/v2\/images\?limit=1&marker=/);
    expect(nextPage({ images: [] }, 'images', 'http://127.0.0.1:29292')).toBeUndefined();
  });
});

describe('imported images boot like the base image', () => {
  test('a direct-boot base image lends its kernel, ramdisk and command line; a whole-disk image nothing', () => {
    const base: GlanceImage = rec('images-page1').body.images[0];
    expect(directBootProps(base)).toEqual({
      kernel_id: base.kernel_id,
      ramdisk_id: base.ramdisk_id,
      os_command_line: 'console=ttyS0 quiet panic=-1',
    });
    // The lab's initrd (an ari) stands in for an image with no boot properties.
    expect(directBootProps(rec('images-page2').body.images[0])).toEqual({});
  });
});

describe('403 is a policy refusal, not an auth failure', () => {
  const member = (f: string) => rec(`member-${f}`);

  test.each([
    ['flavor-create', 'os_compute_api:os-flavor-manage:create', 'POST /flavors'],
    ['hypervisors', 'os_compute_api:os-hypervisors:list-detail', 'GET /os-hypervisors/detail'],
    ['aggregates', 'os_compute_api:os-aggregates:index', 'GET /os-aggregates'],
    ['availability-zones-detail', 'os_compute_api:os-availability-zone:detail', 'GET /os-availability-zone/detail'],
    ['services', 'os_compute_api:os-services:list', 'GET /os-services'],
    ['diagnostics', 'os_compute_api:os-server-diagnostics', 'GET /servers/x/diagnostics'],
    ['placement-providers', 'placement:resource_providers:list', 'GET /resource_providers'],
    ['cinder-pools', 'scheduler_extension:scheduler_stats:get_pools', 'GET /scheduler-stats/get_pools'],
    // Recorded by hand (a port with a MAC on the admin's shared network; refused, so nothing made).
    ['port-mac', 'rule:create_port and rule:create_port:mac_address', 'POST /v2.0/ports'],
  ])('member %s: names the rule and the call', (f, rule, call) => {
    const r = member(f);
    expect(r.status).toBe(403);
    const e = errorFor(r.status, r.body, JSON.stringify(r.body), call);
    expect(e).toBeInstanceOf(PrereqMissing);
    expect(e.message).toContain(call);
    expect(e.message).toContain(rule);
  });

  test('a member may list servers, volumes, images, networks, flavors and plain zones', () => {
    for (const f of [
      'cinder-volumes',
      'glance-images',
      'neutron-networks',
      'flavors',
      'availability-zones',
      'server-detail',
    ])
      expect(member(f).status, f).toBeLessThan(300);
  });

  test('a quota 403 is a platform error, not a missing right', () => {
    const r = rec('error-quota');
    expect(r.status).toBe(403);
    expect(policyRule(r.body.forbidden.message)).toBeUndefined();
    expect(errorFor(403, r.body, '', 'POST /servers/x/action')).toBeInstanceOf(PlatformError);
  });

  test('Neutron and Keystone name the rule their own way', () => {
    expect(policyRule('(rule:create_port and rule:create_port:mac_address) is disallowed by policy')).toBe(
      'rule:create_port and rule:create_port:mac_address',
    );
    expect(policyRule('You are not authorized to perform the requested action: identity:list_users.')).toBe(
      'identity:list_users',
    );
  });
});

describe('zones, console', () => {
  test("the host is listed in 'internal' (conductor, scheduler) and in its compute zone: the zone is the compute one", () => {
    const z = rec('availability-zones').body;
    const host = rec('hypervisors').body.hypervisors[0].service.host;
    expect(z.availabilityZoneInfo.map((x: { zoneName: string }) => x.zoneName)).toContain('internal');
    expect(zoneOfHost(z, host, rec('aggregates').body)).toBe('nova');
    // An aggregate that is an availability zone wins.
    expect(zoneOfHost(z, host, { aggregates: [{ hosts: [host], availability_zone: 'az-a' }] })).toBe('az-a');
  });

  test('the console log restarts at every start (append="off", os-start is a hard reboot)', () => {
    const first = rec('console-first-boot').body.output as string;
    const after = rec('console-after-start').body.output as string;
    const boot = parseConsole(first).events.find((e) => e.kind === 'ready');
    expect(boot).toBeDefined();
    expect(after).not.toContain(boot && 'bootId' in boot ? boot.bootId : 'x');
    // A stopped server has no console at all.
    expect(rec('console-stopped').status).toBe(404);
  });

  test("the guest view leaves out create's boot while the log still holds it, and nothing else", () => {
    const first = rec('console-first-boot').body.output as string;
    const boot = parseConsole(first).events.find((e) => e.kind === 'ready');
    const id = boot && 'bootId' in boot ? boot.bootId : '';
    expect(consoleSinceCreate(first, id)).toBe('');
    const later = `${first}VMC READY boot_id=00000000-0000-0000-0000-000000000001 kernel=k\n`;
    expect(parseConsole(consoleSinceCreate(later, id)).events).toHaveLength(1);
    const restarted = rec('console-after-start').body.output as string;
    expect(consoleSinceCreate(restarted, id)).toBe(restarted);
    expect(consoleSinceCreate(first, undefined)).toBe(first);
  });
});

describe('servers: ERROR, resize, disks', () => {
  test('a build the scheduler cannot place: ERROR with fault, power_state 0 (never ran), not a crashed guest', () => {
    const s: NovaServer = rec('server-error-fault').body.server;
    expect(s.status).toBe('ERROR');
    expect(s.fault?.message).toMatch(/No valid host/);
    expect(mapPower(s).power).toBe('stopped');
  });

  test('a resize that finds no host leaves the server ACTIVE with no fault: the instance action says why', () => {
    const s: NovaServer = rec('server-after-failed-resize').body.server;
    expect(s.status).toBe('ACTIVE');
    expect(s.fault).toBeUndefined();
    const a: InstanceAction = rec('instance-action-resize').body.instanceAction;
    const one = resizeFailure(a, 1);
    expect(one).toMatch(/No valid host/);
    expect(one).toContain('allow_resize_to_same_host');
    expect(resizeFailure(a, 2)).not.toContain('allow_resize_to_same_host');
    expect(resizeFailure(rec('instance-action-create').body.instanceAction, 1)).toBeUndefined();
  });

  test('diagnostics follow the domain: virtio disks by name (local root first), the config drive (cdrom) last', () => {
    const server: NovaServer = rec('server-active').body.server;
    expect(localRootDisk(server)).toMatchObject({ target: 'vda', role: 'boot', sizeBytes: 1024 ** 3 });
    const order = domainDiskOrder(rec('volume-attachments').body.volumeAttachments, {
      localRoot: true,
      configDrive: server.config_drive === 'True',
    });
    const domain = rec('domain-disks') as unknown as { disks: { device: string; target: string[] }[] };
    expect(order).toEqual(domain.disks.map((d) => (d.device === 'cdrom' ? 'config-drive' : d.target[0])));
    const m = toVmMetrics(rec('diagnostics').body, order);
    expect(m.disks.map((d) => d.target)).toEqual(['vda', 'vdb', 'config-drive']);
    // The guest read its config drive: the read lands on that label, not on a data volume.
    expect(m.disks.find((d) => d.target === 'config-drive')?.readBytes).toBeGreaterThan(0);
    // A volume attached later joins the virtio disks, before the cdrom.
    const order2 = domainDiskOrder(rec('volume-attachments-2').body.volumeAttachments, {
      localRoot: true,
      configDrive: true,
    });
    const domain2 = rec('domain-disks-2') as unknown as { disks: { device: string; target: string[] }[] };
    expect(order2).toEqual(domain2.disks.map((d) => (d.device === 'cdrom' ? 'config-drive' : d.target[0])));
    expect(rec('diagnostics-2').body.disk_details).toHaveLength(order2.length);
    expect(
      domainDiskOrder(
        [
          { volumeId: 'a', device: '/dev/vdaa' },
          { volumeId: 'b', device: '/dev/vdz' },
        ],
        {
          localRoot: false,
          configDrive: false,
        },
      ),
    ).toEqual(['vdz', 'vdaa']);
  });
});

describe('backups', () => {
  test("a VM backup is named by its boot volume's part, whatever order Cinder lists the parts in", () => {
    const all: RawBackup[] = rec('backups-group').body.backups;
    // Both parts were made in the same second, and the data disk's sorts first.
    expect(all.map((b) => b.metadata?.['vmconform:device'])).toEqual(['vdb', 'vda']);
    const heads = backupHeads(all);
    expect(heads.map((b) => b.metadata?.['vmconform:device'])).toEqual(['vda']);
    // A half-made group (no boot part yet) is still found, under its first part.
    expect(backupHeads(all.slice(0, 1)).map((b) => b.id)).toEqual([all[0]?.id]);
  });
});
