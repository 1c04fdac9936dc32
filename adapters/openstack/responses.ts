/**
 * Pure parsing of what every OpenStack call shares: Keystone tokens and the service catalog,
 * microversion negotiation, and the services' error bodies (and a server's fault) as typed errors.
 * No I/O: unit-tested on recorded payloads in fixtures/openstack.
 */
import { AuthFailed, Conflict, NotFound, PlatformError, type VmconformError } from '../contract/index.js';

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
    catalog: (t.catalog as CatalogService[]) ?? [],
  };
}

/** The endpoint URL of a service type from the catalog, for an interface and (optionally) a region. */
export function endpointFor(catalog: CatalogService[], type: string, iface: string, region?: string): string {
  const svc = catalog.find((s) => s.type === type);
  if (!svc)
    throw new NotFound(`the Keystone catalog has no '${type}' service (has: ${catalog.map((s) => s.type).join(', ')})`);
  const ep = svc.endpoints.find(
    (e) => e.interface === iface && (!region || e.region_id === region || e.region === region),
  );
  if (!ep)
    throw new NotFound(`the Keystone catalog has no ${iface} '${type}' endpoint${region ? ` in ${region}` : ''}`);
  return ep.url.replace(/\/$/, '');
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

/** Typed contract error for an OpenStack error response. */
export function errorFor(status: number, body: unknown, text: string, what: string): VmconformError {
  const { type, message } = errorMessage(body, text);
  const msg = `openstack: ${what} answered HTTP ${status}${type ? ` ${type}` : ''}: ${message}`;
  if (status === 401) return new AuthFailed(msg);
  // Glance refuses deleting a protected image with 403: a state conflict, not missing rights.
  if (status === 403 && /protected/i.test(message)) return new Conflict(msg);
  if (status === 403) return new AuthFailed(msg);
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
