/**
 * Pure parsing of what every OpenStack call shares: Keystone tokens and the service catalog,
 * microversion negotiation, and the services' error bodies (and a server's fault) as typed errors.
 * No I/O: unit-tested on recorded payloads in fixtures/openstack.
 */
import {
  AuthFailed,
  Conflict,
  NotFound,
  PlatformError,
  PrereqMissing,
  type VmconformError,
} from '../contract/index.js';

// ---- Keystone ----------------------------------------------------------------------------------

export interface CatalogEndpoint {
  interface: string;
  region_id?: string;
  region?: string;
  url: string;
}

export interface CatalogService {
  type: string;
  name?: string;
  endpoints: CatalogEndpoint[];
}

export interface TokenInfo {
  expiresAt: number;
  projectId: string;
  userId: string;
  methods: string[];
  /** Role names the token carries (what the cloud's policy judges). */
  roles: string[];
  catalog: CatalogService[];
}

export function parseToken(body: unknown): TokenInfo {
  const t = (body as { token?: Record<string, unknown> })?.token;
  if (!t || typeof t.expires_at !== 'string') throw new Error('Keystone token response has no token.expires_at');
  return {
    expiresAt: Date.parse(t.expires_at),
    projectId: String((t.project as { id?: string } | undefined)?.id ?? ''),
    userId: String((t.user as { id?: string } | undefined)?.id ?? ''),
    methods: (t.methods as string[]) ?? [],
    roles: ((t.roles as { name?: string }[] | undefined) ?? []).map((r) => String(r.name ?? '')),
    catalog: (t.catalog as CatalogService[]) ?? [],
  };
}

/**
 * The endpoint URL of a service from the catalog, for an interface and (optionally) a region. `types`
 * lists the catalog types that name the service, first match wins: block storage is `block-storage`
 * (what DevStack and Zed's own docs register), `volumev3` or the old `volume`.
 */
export function endpointFor(
  catalog: CatalogService[],
  types: string | string[],
  iface: string,
  region?: string,
): string {
  const wanted = typeof types === 'string' ? [types] : types;
  const type = wanted.find((t) => catalog.some((s) => s.type === t)) ?? wanted[0];
  const svc = catalog.find((s) => s.type === type);
  if (!svc)
    throw new NotFound(
      `the Keystone catalog has no '${wanted.join("' or '")}' service (has: ${catalog.map((s) => s.type).join(', ')})`,
    );
  const ep = svc.endpoints.find(
    (e) => e.interface === iface && (!region || e.region_id === region || e.region === region),
  );
  if (!ep)
    throw new NotFound(`the Keystone catalog has no ${iface} '${type}' endpoint${region ? ` in ${region}` : ''}`);
  return ep.url.replace(/\/$/, '');
}

/** Catalog types per service the adapter calls. */
export const catalogTypes = {
  compute: ['compute'],
  image: ['image'],
  network: ['network'],
  volumev3: ['block-storage', 'volumev3', 'volume'],
  placement: ['placement'],
} as const;

/**
 * The base URL the adapter's paths are relative to, whatever version the catalog URL carries: Nova
 * `/v2.1`, Cinder `/v3[/<project>]` (both added when the catalog gives the bare root), and the bare
 * root for Glance and Neutron (their paths carry `/v2` and `/v2.0`, and catalogs register them with
 * or without).
 */
export function serviceBase(type: keyof typeof catalogTypes, url: string): string {
  const u = url.replace(/\/$/, '');
  switch (type) {
    case 'compute':
      return /\/v2(\.1)?(\/|$)/.test(u) ? u : `${u}/v2.1`;
    case 'volumev3':
      return /\/v3(\/|$)/.test(u) ? u : `${u}/v3`;
    case 'network':
      return u.replace(/\/v2\.0$/, '');
    case 'image':
      return u.replace(/\/v2$/, '');
    default:
      return u;
  }
}

/** The unversioned root that serves a service's version document (Cinder and Glance answer it with 300). */
export function versionRoot(type: keyof typeof catalogTypes, base: string): string {
  if (type === 'volumev3') return base.replace(/\/v3(\/.*)?$/, '/');
  if (type === 'compute') return base.replace(/\/v2(\.1)?(\/.*)?$/, '/');
  return `${base}/`;
}

/**
 * The next page of a list, as a path relative to the client's base URL, or undefined on the last page.
 * Nova, Cinder and Neutron give `<key>_links` with rel=next (absolute URLs, possibly naming another
 * host than the catalog's when behind a proxy: only the path is kept); Glance gives `next`, a path
 * from its root.
 */
export function nextPage(body: unknown, key: string, base: string): string | undefined {
  const b = body as Record<string, unknown>;
  const links = b[`${key}_links`] as { rel: string; href: string }[] | undefined;
  const href = links?.find((l) => l.rel === 'next')?.href ?? (typeof b.next === 'string' ? b.next : undefined);
  if (!href) return undefined;
  const u = new URL(href, `${base}/`);
  const basePath = new URL(base).pathname.replace(/\/$/, '');
  const path = u.pathname.startsWith(`${basePath}/`) ? u.pathname.slice(basePath.length) : u.pathname;
  return path + u.search;
}

// ---- microversions -------------------------------------------------------------------------------

export interface Microversion {
  major: number;
  minor: number;
}

export const mv = (s: string): Microversion => {
  const m = /^(\d+)\.(\d+)$/.exec(s.trim());
  if (!m) throw new Error(`not a microversion: '${s}'`);
  return { major: Number(m[1]), minor: Number(m[2]) };
};
export const mvString = (v: Microversion) => `${v.major}.${v.minor}`;
const cmp = (a: Microversion, b: Microversion) => a.major - b.major || a.minor - b.minor;

/**
 * Picks the microversion to pin from a service's version document (`version`/`min_version`, or
 * Placement's `max_version`): the highest the server offers up to `preferred`, never below `required`.
 */
export function negotiateMicroversion(
  doc: unknown,
  required: string,
  preferred: string,
): { pinned: string; serverMin: string; serverMax: string } {
  const d = doc as { version?: Record<string, string>; versions?: Record<string, string>[] };
  const v =
    d.version ?? d.versions?.find((x) => x.status === 'CURRENT') ?? d.versions?.[0] ?? ({} as Record<string, string>);
  const max = v.version || v.max_version;
  const min = v.min_version || '';
  if (!max) throw new PlatformError('the service offers no microversions', 'no-microversion', JSON.stringify(doc));
  const want = cmp(mv(max), mv(preferred)) < 0 ? mv(max) : mv(preferred);
  if (cmp(want, mv(required)) < 0)
    throw new PlatformError(
      `the service's maximum microversion ${max} is below the ${required} this adapter needs`,
      'microversion',
      `min ${min} max ${max}`,
    );
  return { pinned: mvString(want), serverMin: min, serverMax: max };
}

// ---- errors ---------------------------------------------------------------------------------------

/** The platform's own message from any OpenStack error body (Nova/Cinder, Neutron, Keystone, Placement, Glance). */
export function errorMessage(body: unknown, text: string): { type?: string; message: string } {
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    const ne = b.NeutronError as { type?: string; message?: string } | undefined;
    if (ne?.message) return { ...(ne.type ? { type: ne.type } : {}), message: ne.message };
    const ke = b.error as { message?: string; title?: string } | undefined;
    if (ke?.message) return { ...(ke.title ? { type: ke.title } : {}), message: ke.message };
    const pe = (b.errors as { detail?: string; code?: string }[] | undefined)?.[0];
    if (pe?.detail) return { ...(pe.code ? { type: pe.code } : {}), message: pe.detail };
    const [key] = Object.keys(b);
    const inner = key ? (b[key] as { message?: string } | undefined) : undefined;
    if (key && inner && typeof inner === 'object' && typeof inner.message === 'string')
      return { type: key, message: inner.message };
  }
  // Glance answers errors as a small HTML page: keep its text.
  const plain = text
    .replace(/<title>.*?<\/title>/s, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return { message: plain };
}

/**
 * The policy rule a 403 names: Nova, Cinder and Placement say "Policy doesn't/does not allow <rule> to
 * be performed", Keystone "…the requested action: <rule>", Neutron "(rule:<rule>) is disallowed by policy".
 */
export function policyRule(message: string): string | undefined {
  return (
    /[Pp]olicy (?:doesn't|does not) allow (\S+) to be performed/.exec(message)?.[1] ??
    /not authorized to perform the requested action: ([\w:-]+(?:\.[\w:-]+)*)/.exec(message)?.[1] ??
    /\(?(rule:[^)]+?)\)? is disallowed by policy/.exec(message)?.[1]
  );
}

/** Typed contract error for an OpenStack error response. */
export function errorFor(status: number, body: unknown, text: string, what: string): VmconformError {
  const { type, message } = errorMessage(body, text);
  const msg = `openstack: ${what} answered HTTP ${status}${type ? ` ${type}` : ''}: ${message}`;
  if (status === 401) return new AuthFailed(msg);
  // Glance refuses deleting a protected image with 403: a state conflict, not missing rights.
  if (status === 403 && /protected/i.test(message)) return new Conflict(msg);
  // A 403 is the cloud's policy refusing this call to this credential's roles (the token is fine):
  // the credential lacks a right the check needs, so it names the rule and the call.
  if (status === 403) {
    const rule = policyRule(message);
    if (rule || !/quota/i.test(message))
      return new PrereqMissing(
        `openstack: the credential may not call ${what}: ${rule ? `policy rule ${rule} refused it` : 'refused by policy'} (HTTP 403${type ? ` ${type}` : ''}: ${message.trim()}); a role the cloud's policy allows is needed`,
      );
  }
  if (status === 404) return new NotFound(msg);
  if (status === 409) return new Conflict(msg);
  return new PlatformError(msg, `http-${status}${type ? `-${type}` : ''}`, message);
}

export interface ServerFault {
  code: number;
  message: string;
  details?: string;
  created?: string;
}

/** A server's `fault` (status ERROR) as a typed error: the platform's code and message verbatim. */
export function faultError(serverName: string, fault: ServerFault | undefined): PlatformError {
  const code = fault?.code ?? 0;
  const message = fault?.message ?? 'server went to ERROR without a fault';
  return new PlatformError(
    `openstack: server ${serverName} failed: ${message} (fault code ${code})`,
    `nova-fault-${code}`,
    message,
  );
}
