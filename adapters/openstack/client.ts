/**
 * OpenStack session over the shared HttpClient: Keystone v3 token (password or application
 * credential), endpoint discovery from the token's catalog, token renewal before expiry and once on a
 * 401 (Keystone middleware rejects before the service acts, so the retry never repeats an action),
 * and microversions negotiated once per service, pinned and sent on every call.
 */

import { AuthFailed, PlatformError } from '../../evidence/errors.js';
import { registerSecret } from '../../evidence/redact.js';
import type { Transcript } from '../../evidence/transcript.js';
import { HttpClient, type HttpResponse, type RequestOptions, type TlsOptions } from '../http/client.js';
import {
  catalogTypes,
  endpointFor,
  errorFor,
  negotiateMicroversion,
  nextPage,
  parseToken,
  serviceBase,
  type TokenInfo,
  versionRoot,
} from './responses.js';

export type OpenStackAuth =
  | {
      method: 'password';
      username: string;
      userDomain: string;
      project: string;
      projectDomain: string;
      password: string;
    }
  | { method: 'application-credential'; id: string; secret: string };

export type ServiceType = 'compute' | 'image' | 'network' | 'volumev3' | 'placement';

export interface SessionOptions {
  authUrl: string;
  auth: OpenStackAuth;
  region?: string;
  interface: 'public' | 'internal' | 'admin';
  tls?: TlsOptions;
  transcript: Transcript;
  /** Microversions: the least the adapter needs and the most it asks for. */
  microversions: Record<'compute' | 'volume' | 'placement', { required: string; preferred: string }>;
}

/** The least each service must offer for this adapter (tags at create, BDM tags, backup metadata, volume from backup). */
export const requiredMicroversions = { compute: '2.79', volume: '3.47', placement: '1.10' } as const;

/** Microversion bounds: the required minimum and the preferred (highest wanted) version per service. */
export function microversionsFor(
  preferred: Record<'compute' | 'volume' | 'placement', string> = {
    compute: '2.93',
    volume: '3.70',
    placement: '1.39',
  },
): SessionOptions['microversions'] {
  return {
    compute: { required: requiredMicroversions.compute, preferred: preferred.compute },
    volume: { required: requiredMicroversions.volume, preferred: preferred.volume },
    placement: { required: requiredMicroversions.placement, preferred: preferred.placement },
  };
}

/** Renew this long before the token expires, so no call races the expiry. */
const renewMarginMs = 120_000;

const mvHeader: Partial<Record<ServiceType, 'compute' | 'volume' | 'placement'>> = {
  compute: 'compute',
  volumev3: 'volume',
  placement: 'placement',
};

export class OpenStackSession {
  private token: string | undefined;
  private info: TokenInfo | undefined;
  private authing: Promise<void> | undefined;
  private readonly clients = new Map<ServiceType, HttpClient>();
  /** Pinned microversion per service, recorded in platformInfo. */
  readonly pinned: Partial<
    Record<'compute' | 'volume' | 'placement', { pinned: string; serverMin: string; serverMax: string }>
  > = {};
  /** True when the endpoint says it is the vmconform simulator (x-vmconform-simulator header). */
  simulator = false;
  private readonly keystone: HttpClient;

  constructor(private readonly opts: SessionOptions) {
    this.keystone = this.http('keystone', opts.authUrl, false);
  }

  private http(label: string, baseUrl: string, authed = true): HttpClient {
    return new HttpClient({
      label: `openstack ${label}`,
      baseUrl,
      transcript: this.opts.transcript,
      requestIdHeader: 'x-openstack-request-id',
      ...(this.opts.tls ? { tls: this.opts.tls } : {}),
      mapError: (res, what) => errorFor(res.status, res.body, res.text, what),
      ...(authed ? { headers: async () => ({ 'x-auth-token': await this.validToken() }) } : {}),
    });
  }

  get projectId(): string {
    return this.info?.projectId ?? '';
  }

  get roles(): string[] {
    return this.info?.roles ?? [];
  }

  get tokenExpiresAt(): number | undefined {
    return this.info?.expiresAt;
  }

  private authBody(): unknown {
    const a = this.opts.auth;
    if (a.method === 'application-credential')
      return {
        auth: {
          identity: { methods: ['application_credential'], application_credential: { id: a.id, secret: a.secret } },
        },
      };
    return {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: a.username, domain: { name: a.userDomain }, password: a.password } },
        },
        scope: { project: { name: a.project, domain: { name: a.projectDomain } } },
      },
    };
  }

  /** Issues a new token (POST /auth/tokens is safe to repeat: each call only mints a token). */
  async authenticate(): Promise<void> {
    this.authing ??= (async () => {
      try {
        const res = await this.keystone.post('/auth/tokens', { json: this.authBody(), idempotent: true });
        const token = res.headers['x-subject-token'];
        if (!token)
          throw new PlatformError('openstack: Keystone issued no X-Subject-Token', 'keystone', res.text.slice(0, 200));
        registerSecret(token);
        this.token = token;
        this.info = parseToken(res.body);
        if (res.headers['x-vmconform-simulator']) this.simulator = true;
      } finally {
        this.authing = undefined;
      }
    })();
    return this.authing;
  }

  private async validToken(): Promise<string> {
    if (!this.token || !this.info || this.info.expiresAt - Date.now() < renewMarginMs) await this.authenticate();
    return this.token as string;
  }

  /** Forgets the token, so the next call authenticates again (tests token renewal). */
  expireToken(): void {
    this.token = undefined;
  }

  async client(type: ServiceType): Promise<HttpClient> {
    let c = this.clients.get(type);
    if (c) return c;
    if (!this.info) await this.authenticate();
    const found = endpointFor(this.info?.catalog ?? [], [...catalogTypes[type]], this.opts.interface, this.opts.region);
    const url = serviceBase(type, found);
    c = this.http(type, url);
    this.clients.set(type, c);
    const mvKey = mvHeader[type];
    if (mvKey && !this.pinned[mvKey]) await this.negotiate(type, mvKey, url);
    return c;
  }

  /**
   * Reads the service's version document and pins a version: the unversioned root first (Cinder and
   * Glance answer it with 300 Multiple Choices, a normal answer there), else the versioned endpoint
   * itself (Nova's /v2.1 answers its own document), for clouds whose root is not routed.
   */
  private async negotiate(type: ServiceType, key: 'compute' | 'volume' | 'placement', url: string): Promise<void> {
    const want = this.opts.microversions[key];
    const tries = [versionRoot(type, url), `${url}/`];
    let last: unknown;
    for (const root of [...new Set(tries)]) {
      const c = this.http(`${type} versions`, root, root !== tries[0]);
      try {
        const doc = (await c.get('', { okStatuses: [300] })).body;
        this.pinned[key] = negotiateMicroversion(doc, want.required, want.preferred);
        return;
      } catch (e) {
        // Below the adapter's minimum is an answer, not a reason to look elsewhere.
        if (e instanceof PlatformError && e.platformCode === 'microversion') throw e;
        last = e;
      } finally {
        await c.close();
      }
    }
    throw last;
  }

  /**
   * Every item of a list, page after page: Nova, Cinder and Neutron page at their configured maximum
   * (osapi_max_limit 1000, Neutron's pagination) and Glance at 25 by default, so one GET is not the list.
   */
  async list<T>(type: ServiceType, path: string, key: string, query: RequestOptions['query'] = {}): Promise<T[]> {
    const out: T[] = [];
    const base = (await this.client(type)).baseUrl;
    let next: string | undefined = path;
    let q: RequestOptions['query'] | undefined = query;
    for (let pages = 0; next; pages++) {
      if (pages > 1000) throw new PlatformError(`openstack: ${path} pages without end`, 'paging', next);
      const body: unknown = (await this.call<Record<string, unknown>>(type, 'GET', next, q ? { query: q } : {})).body;
      out.push(...(((body as Record<string, unknown>)[key] as T[] | undefined) ?? []));
      const after = nextPage(body, key, base);
      // The next link repeats every filter itself.
      next = after && after !== next ? after : undefined;
      q = undefined;
    }
    return out;
  }

  /** One call to a service with its pinned microversion; one re-authentication on 401. */
  async call<T = unknown>(
    type: ServiceType,
    method: string,
    path: string,
    ro: RequestOptions = {},
  ): Promise<HttpResponse<T>> {
    const c = await this.client(type);
    const key = mvHeader[type];
    const pin = key ? this.pinned[key]?.pinned : undefined;
    const headers = { ...(pin && key ? { 'openstack-api-version': `${key} ${pin}` } : {}), ...ro.headers };
    try {
      return await c.request<T>(method, path, { ...ro, headers });
    } catch (e) {
      if (!(e instanceof AuthFailed) || !/HTTP 401/.test(e.message)) throw e;
      await this.authenticate();
      return c.request<T>(method, path, { ...ro, headers });
    }
  }

  async close(): Promise<void> {
    for (const c of this.clients.values()) await c.close();
    await this.keystone.close();
  }
}
