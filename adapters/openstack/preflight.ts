/**
 * OpenStack preflight: which calls the credential may not make (the cloud's policy), which services or
 * microversions are missing, and which requirements would end prereq-missing for it. Read calls are
 * tried (a refusal is a 403 naming the policy rule); create-type calls are judged without side effects,
 * from the default policy and the token's roles (a cloud that overrides those rules may differ, and
 * the detail says which rule was assumed). `preflightChecks` is pure: unit-tested on recorded payloads.
 */

import type { PreflightCheck, Target } from '../contract/index.js';
import type { OpenStackDriver } from './adapter.js';
import type { ServiceType } from './client.js';
import type { OpenStackPlatformConfig } from './config.js';
import { errorMessage, policyRule } from './responses.js';

/** Every automatable requirement (run/preflight expands it). */
const automatable = ['*'];
/** Requirements that create VMs: all but the read-only platform checks. */
const creating = ['*', '!AUT-01', '!STO-03'];

/** What one tried call answered: its status and the service's message. */
export interface CallResult {
  status: number;
  message: string;
}

export interface PreflightObservations {
  roles: string[];
  /** Per service type: '' when reachable and negotiated, else why not. */
  services: Partial<Record<ServiceType, string>>;
  /** Pinned microversions, for the detail. */
  pinned: Record<string, string>;
  /** Read calls tried, by name (see `reads`). */
  reads: Record<string, CallResult>;
  /** The configured networks: found, and whether the credential's project owns them. */
  networks: { name: string; found: boolean; ownProject: boolean }[];
  boot: 'volume' | 'image';
  computeHosts?: number;
  /** Cinder's cinder-backup services (os-services), when the credential may read them. */
  backupServices?: CinderService[];
}

/** One row of Cinder's GET /os-services. */
export interface CinderService {
  binary: string;
  host: string;
  status: string;
  state: string;
}

const backupAffects = ['STO-01', 'MDC-03', 'MDC-04'];

/** The read calls tried, what they serve and which requirements need them. */
export const reads: { name: string; svc: ServiceType; path: string; serves: string; affects: string[] }[] = [
  {
    name: 'hypervisors',
    svc: 'compute',
    path: '/os-hypervisors/detail',
    serves: "hosts (the harness reads them at the start of every run, INV, ID, MDC); the platform's hypervisor type",
    affects: automatable,
  },
  {
    name: 'placement',
    svc: 'placement',
    path: '/resource_providers',
    serves: 'host capacity and allocation (every host read)',
    affects: automatable,
  },
  {
    name: 'zones',
    svc: 'compute',
    path: '/os-availability-zone/detail',
    serves: "a host's zone (its site)",
    affects: automatable,
  },
  {
    name: 'aggregates',
    svc: 'compute',
    path: '/os-aggregates',
    serves: "a host's failure domain and aggregate zone (hosts, inspect)",
    affects: automatable,
  },
  { name: 'services', svc: 'compute', path: '/os-services', serves: 'compute services (their zones)', affects: [] },
  {
    name: 'flavors',
    svc: 'compute',
    path: '/flavors/detail?limit=1',
    serves: 'flavors for every create',
    affects: creating,
  },
  { name: 'servers', svc: 'compute', path: '/servers/detail?limit=1', serves: 'servers', affects: automatable },
  { name: 'images', svc: 'image', path: '/v2/images?limit=1', serves: 'images', affects: creating },
  { name: 'networks', svc: 'network', path: '/v2.0/networks?limit=1', serves: 'networks', affects: creating },
  { name: 'volumes', svc: 'volumev3', path: '/volumes/detail?limit=1', serves: 'volumes (disks)', affects: creating },
  {
    name: 'storage-pools',
    svc: 'volumev3',
    path: '/scheduler-stats/get_pools?detail=true',
    serves: 'storage pools (capacity)',
    affects: ['STO-03', 'OPS-01'],
  },
  {
    name: 'backups',
    svc: 'volumev3',
    path: '/backups/detail?limit=1',
    serves: 'volume backups',
    affects: backupAffects,
  },
];

const serviceAffects: Record<ServiceType, (boot: 'volume' | 'image') => string[]> = {
  compute: () => automatable,
  image: () => creating,
  network: () => creating,
  placement: () => automatable,
  // With boot: volume every create makes its root disk in Cinder.
  volumev3: (boot) =>
    boot === 'volume' ? creating : ['DSK-01', 'DSK-02', 'DSK-03', 'DSK-04', 'DSK-05', 'STO-01', 'STO-02', 'STO-03'],
};

const isAdmin = (roles: string[]) => roles.includes('admin');

/** The checks from what was observed (pure). */
export function preflightChecks(o: PreflightObservations): PreflightCheck[] {
  const out: PreflightCheck[] = [];
  const roleList = o.roles.join(', ') || 'none';
  for (const [svc, why] of Object.entries(o.services) as [ServiceType, string][])
    out.push({
      name: `service ${svc === 'volumev3' ? 'block-storage' : svc}${o.pinned[svc] ? ` (microversion ${o.pinned[svc]})` : ''}`,
      ok: !why,
      detail: why || 'in the catalog, version negotiated',
      affects: why ? serviceAffects[svc](o.boot) : [],
    });
  for (const r of reads) {
    const got = o.reads[r.name];
    if (!got) continue;
    const ok = got.status < 300;
    const rule = policyRule(got.message);
    out.push({
      name: `may call ${r.svc} GET ${r.path.replace(/\?.*/, '')} (${r.serves})`,
      ok,
      detail: ok
        ? `HTTP ${got.status}`
        : `HTTP ${got.status}${rule ? `: policy rule ${rule} refuses it` : ''}: ${got.message.replace(/\s+/g, ' ').trim()} (roles: ${roleList})`,
      affects: ok ? [] : r.affects,
    });
  }
  // The backup API answers without a backup service; a backup then stays 'creating' or ends 'error'.
  if (o.backupServices) {
    const up = o.backupServices.filter((x) => x.status === 'enabled' && x.state === 'up');
    out.push({
      name: 'service cinder-backup running',
      ok: up.length > 0,
      detail: up.length
        ? `up on ${up.map((x) => x.host).join(', ')}`
        : o.backupServices.length
          ? `registered but not serving: ${o.backupServices.map((x) => `${x.host} ${x.status}/${x.state}`).join(', ')}`
          : 'no cinder-backup service registered: volume backups cannot run',
      affects: up.length ? [] : backupAffects,
    });
  }
  // Create-type calls, judged by the default policy (no call made).
  const admin = isAdmin(o.roles);
  const byDefault = (name: string, rule: string, affects: string[], why: string) =>
    out.push({
      name: `may ${name}`,
      ok: admin,
      detail: admin
        ? `default policy ${rule} (admin role held)`
        : `default policy ${rule} needs the admin role; roles: ${roleList}. ${why}`,
      affects: admin ? [] : affects,
    });
  byDefault(
    'create flavors (POST /flavors)',
    'os_compute_api:os-flavor-manage:create',
    creating,
    'Every create needs a vmc-c<vcpus>-m<MiB> flavor: only where an admin made them beforehand would creates work.',
  );
  byDefault(
    'read server diagnostics',
    'os_compute_api:os-server-diagnostics',
    ['OPS-05'],
    'Per-VM metrics come from them.',
  );
  for (const n of o.networks)
    out.push({
      name: `may give ports a MAC address on network '${n.name}'`,
      ok: n.found && (admin || n.ownProject),
      detail: !n.found
        ? `no network named '${n.name}'`
        : admin || n.ownProject
          ? admin
            ? 'admin role'
            : "the credential's project owns it"
          : `default policy create_port:mac_address allows it to the network's owner or an admin; the network belongs to another project (roles: ${roleList})`,
      affects: n.found && (admin || n.ownProject) ? [] : creating,
    });
  if (o.computeHosts === 1)
    out.push({
      name: 'resize on one compute host',
      ok: true,
      detail:
        'one compute host: a resize (OPS-02) needs allow_resize_to_same_host = True in nova.conf, which no API shows; without it the adapter reports NoValidHost and names that option',
      affects: [],
    });
  return out;
}

/** Observes the cloud with the configured credential (only reads) and returns the checks. */
export async function openStackPreflight(ctx: {
  section: OpenStackPlatformConfig;
  target: Target;
}): Promise<PreflightCheck[]> {
  const driver = ctx.target.driver as OpenStackDriver;
  const s = driver.session;
  await s.authenticate();
  const o: PreflightObservations = {
    roles: s.roles,
    services: {},
    pinned: {},
    reads: {},
    networks: [],
    boot: ctx.section.boot,
  };
  for (const svc of ['compute', 'image', 'network', 'volumev3', 'placement'] as ServiceType[])
    o.services[svc] = await s.client(svc).then(
      () => '',
      (e: Error) => e.message,
    );
  for (const [k, v] of Object.entries(s.pinned)) o.pinned[k === 'volume' ? 'volumev3' : k] = v.pinned;
  for (const r of reads) {
    if (o.services[r.svc]) continue;
    const res = await s.call(r.svc, 'GET', r.path, { okStatuses: [400, 401, 403, 404] }).catch((e: Error) => ({
      status: 599,
      body: undefined,
      text: e.message,
    }));
    o.reads[r.name] =
      res.status < 300
        ? { status: res.status, message: '' }
        : { status: res.status, message: errorMessage(res.body, res.text).message };
    if (r.name === 'hypervisors' && res.status < 300)
      o.computeHosts = (res.body as { hypervisors?: unknown[] }).hypervisors?.length;
  }
  if (!o.services.volumev3) {
    const r = await s
      .call<{ services: CinderService[] }>('volumev3', 'GET', '/os-services', { query: { binary: 'cinder-backup' } })
      .catch(() => undefined);
    if (r) o.backupServices = r.body.services;
  }
  if (!o.services.network)
    for (const name of [ctx.section.network, ctx.section.network2]) {
      const r = await s
        .call<{ networks: { project_id?: string }[] }>('network', 'GET', '/v2.0/networks', { query: { name } })
        .catch(() => undefined);
      const n = r?.body.networks[0];
      o.networks.push({ name, found: !!n, ownProject: !!n && n.project_id === s.projectId });
    }
  return preflightChecks(o);
}
