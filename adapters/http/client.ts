/**
 * The one HTTP client every REST adapter uses (Incus, Proxmox VE, OpenStack): undici over TCP, TLS
 * (CA file, certificate fingerprint pin, client certificate) or a unix socket; every exchange goes to
 * the transcript with its duration and the platform's task/request id; typed errors; retries with
 * backoff only for idempotent calls, so a create is never blindly repeated.
 */
import type { TLSSocket } from 'node:tls';
import { Agent, buildConnector, type Dispatcher, errors as undiciErrors } from 'undici';
import {
  AuthFailed,
  ConfigInvalid,
  Conflict,
  NotFound,
  PlatformError,
  type VmconformError,
} from '../../evidence/errors.js';
import { redactText } from '../../evidence/redact.js';
import type { Transcript } from '../../evidence/transcript.js';

export interface TlsOptions {
  /** PEM CA bundle to verify the server against (verification stays on). */
  ca?: string;
  /** SHA-256 fingerprint of the server certificate (hex, with or without colons): pins a self-signed cert. */
  fingerprint256?: string;
  /** Client certificate and key (PEM), e.g. Incus remote access. */
  cert?: string;
  key?: string;
}

export interface RetryPolicy {
  /** Total attempts for an idempotent call (1 = no retry). */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface HttpResponse<T = unknown> {
  status: number;
  /** The HTTP reason phrase: Proxmox VE puts its error message there, with a body of `{"data":null}`. */
  statusText?: string;
  headers: Record<string, string>;
  /** Parsed JSON when the response is JSON, else the text. */
  body: T;
  text: string;
  durationMs: number;
  requestId?: string;
}

export interface HttpClientOptions {
  /** Platform name for messages, e.g. 'proxmox'. */
  label: string;
  /** e.g. https://pve1:8006/api2/json, or http://incus for a unix socket. */
  baseUrl: string;
  socketPath?: string;
  tls?: TlsOptions;
  transcript: Transcript;
  /** Headers added to every request (auth); their values must already be registered as secrets. */
  headers?: () => Record<string, string> | Promise<Record<string, string>>;
  /** Response header carrying the platform's request id (e.g. x-openstack-request-id). */
  requestIdHeader?: string;
  /** Pulls the platform's task/operation id out of a response for the transcript (UPID, operation UUID). */
  taskIdOf?: (res: HttpResponse) => string | undefined;
  /** Platform-specific error mapping; falls back to status-based mapping when it returns undefined. */
  mapError?: (res: HttpResponse, what: string) => VmconformError | undefined;
  retry?: Partial<RetryPolicy>;
  timeouts?: { connectMs?: number; headersMs?: number; bodyMs?: number };
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  /** JSON body; use `form` for application/x-www-form-urlencoded (Proxmox). */
  json?: unknown;
  form?: Record<string, string | number | boolean | undefined>;
  /** Raw body (uploads); `contentType` says what it is. */
  raw?: Buffer | string;
  contentType?: string;
  headers?: Record<string, string>;
  /** Overrides the method's idempotency (GET/HEAD/OPTIONS are idempotent by default). */
  idempotent?: boolean;
  /** Statuses that are not errors for this call (2xx always are). */
  okStatuses?: number[];
  /** Keep a successful body as bytes (downloads such as backup exports): `body` is a Buffer, `text` empty. */
  binary?: boolean;
}

export const defaultRetry: RetryPolicy = { attempts: 4, baseDelayMs: 200, maxDelayMs: 3_000 };

const retryableStatus = new Set([408, 429, 500, 502, 503, 504]);
const maxTranscriptBody = 2_000;

/** Transport faults worth retrying for an idempotent call (connection reset, timeouts, truncated body). */
export function isTransientTransportError(e: unknown): boolean {
  if (e instanceof BodyParseError) return true;
  const code = (e as { code?: string })?.code ?? '';
  return (
    e instanceof undiciErrors.SocketError ||
    e instanceof undiciErrors.HeadersTimeoutError ||
    e instanceof undiciErrors.BodyTimeoutError ||
    e instanceof undiciErrors.ConnectTimeoutError ||
    ['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'].includes(code)
  );
}

class BodyParseError extends Error {}

const normFingerprint = (f: string) => f.replace(/:/g, '').toLowerCase();

/** Status-based mapping shared by every REST platform; adapters refine it with `mapError`. */
export function errorFromStatus(label: string, res: HttpResponse, what: string): VmconformError {
  const detail = redactText(typeof res.body === 'string' ? res.body : JSON.stringify(res.body)).slice(0, 500);
  const msg = `${label}: ${what} answered HTTP ${res.status}: ${detail}`;
  if (res.status === 401 || res.status === 403) return new AuthFailed(msg);
  if (res.status === 404) return new NotFound(msg);
  if (res.status === 409 || res.status === 423) return new Conflict(msg);
  return new PlatformError(msg, `http-${res.status}`, detail);
}

/**
 * A loopback fault proxy (host/fault-proxy.ts) put in front of a platform without touching its adapter:
 * VMCONFORM_VIA_<LABEL>=http://127.0.0.1:PORT sends this client's requests there (plain HTTP; the proxy
 * speaks to the real endpoint). Only loopback is accepted: test traffic never leaves the machine.
 */
export function viaProxy(label: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const name = `VMCONFORM_VIA_${label.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
  const via = env[name];
  if (!via) return undefined;
  if (!/^http:\/\/(127\.0\.0\.1|\[::1\]|localhost):\d+\/?$/.test(via))
    throw new ConfigInvalid(`${name}: expected a loopback proxy URL such as http://127.0.0.1:18080, got '${via}'`);
  return via.replace(/\/$/, '');
}

/**
 * Creates once. When the outcome is unknown (a transport failure: the platform may have acted and the
 * reply was lost) it is settled by looking the object up by name, never by sending the create again.
 */
export async function createChecked<T>(
  create: () => Promise<T>,
  lookup: () => Promise<T | undefined>,
): Promise<{ value: T; settledBy: 'reply' | 'lookup' }> {
  try {
    return { value: await create(), settledBy: 'reply' };
  } catch (e) {
    if (!(e instanceof PlatformError) || e.platformCode !== 'transport') throw e;
    const found = await lookup();
    if (found === undefined)
      throw new PlatformError(
        `${e.message}; not found by name afterwards (a platform that creates asynchronously may still show it: look again before creating anew)`,
        'transport',
        e.platformMessage,
      );
    return { value: found, settledBy: 'lookup' };
  }
}

export class HttpClient {
  readonly dispatcher: Dispatcher;
  private readonly retry: RetryPolicy;
  private readonly opts: HttpClientOptions;

  constructor(options: HttpClientOptions) {
    const via = viaProxy(options.label);
    const { socketPath: _s, tls: _t, ...plain } = options;
    // Through the proxy the path prefix stays (e.g. /api2/json); TLS and the socket are the proxy's side.
    this.opts = via ? { ...plain, baseUrl: via + new URL(options.baseUrl).pathname.replace(/\/$/, '') } : options;
    const opts = this.opts;
    this.retry = { ...defaultRetry, ...opts.retry };
    const tls = opts.tls ?? {};
    const pin = tls.fingerprint256 ? normFingerprint(tls.fingerprint256) : undefined;
    const base = buildConnector({
      ...(opts.socketPath ? { socketPath: opts.socketPath } : {}),
      ...(tls.ca ? { ca: tls.ca } : {}),
      ...(tls.cert ? { cert: tls.cert } : {}),
      ...(tls.key ? { key: tls.key } : {}),
      // A pinned certificate replaces chain verification (self-signed lab certs); the pin is checked below.
      rejectUnauthorized: pin === undefined,
      // A resumed TLS session shows no peer certificate, so the pin could not be checked: full handshakes only.
      ...(pin ? { maxCachedSessions: 0 } : {}),
      timeout: opts.timeouts?.connectMs ?? 10_000,
    });
    const connect: buildConnector.connector = (options, callback) =>
      base(options, (err, socket) => {
        if (err || !pin || !socket || !('getPeerCertificate' in socket)) return callback(err, socket as never);
        const got = normFingerprint((socket as TLSSocket).getPeerCertificate().fingerprint256 ?? '');
        if (got !== pin) {
          socket.destroy();
          return callback(
            new AuthFailed(
              `${opts.label}: TLS certificate fingerprint ${got || '(none)'} does not match the pinned ${pin} (tls.fingerprint256 in the lab config)`,
            ),
            null,
          );
        }
        callback(null, socket);
      });
    this.dispatcher = new Agent({
      connect,
      headersTimeout: opts.timeouts?.headersMs ?? 30_000,
      bodyTimeout: opts.timeouts?.bodyMs ?? 60_000,
    });
  }

  get baseUrl(): string {
    return this.opts.baseUrl;
  }

  url(path: string, query?: RequestOptions['query']): string {
    const u = new URL(this.opts.baseUrl.replace(/\/$/, '') + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  /** One logical call: retried (idempotent only), recorded, and turned into a typed error unless ok. */
  async request<T = unknown>(method: string, path: string, ro: RequestOptions = {}): Promise<HttpResponse<T>> {
    const idempotent = ro.idempotent ?? ['GET', 'HEAD', 'OPTIONS'].includes(method);
    const attempts = idempotent ? this.retry.attempts : 1;
    const what = `${method} ${path}`;
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1) {
        const delay = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 2));
        await new Promise((r) => setTimeout(r, delay));
      }
      let res: HttpResponse<T>;
      try {
        res = await this.once<T>(method, path, ro, attempt);
      } catch (e) {
        lastError = e;
        if (e instanceof AuthFailed) throw e;
        if (attempt < attempts && isTransientTransportError(e)) continue;
        throw this.transportError(e, what, idempotent, attempt);
      }
      const ok = (res.status >= 200 && res.status < 300) || (ro.okStatuses ?? []).includes(res.status);
      if (ok) return res;
      if (attempt < attempts && retryableStatus.has(res.status)) {
        lastError = res;
        continue;
      }
      throw this.opts.mapError?.(res, what) ?? errorFromStatus(this.opts.label, res, what);
    }
    throw this.transportError(lastError, what, idempotent, attempts);
  }

  get<T = unknown>(path: string, ro?: RequestOptions) {
    return this.request<T>('GET', path, ro);
  }
  post<T = unknown>(path: string, ro?: RequestOptions) {
    return this.request<T>('POST', path, ro);
  }
  put<T = unknown>(path: string, ro?: RequestOptions) {
    return this.request<T>('PUT', path, ro);
  }
  patch<T = unknown>(path: string, ro?: RequestOptions) {
    return this.request<T>('PATCH', path, ro);
  }
  delete<T = unknown>(path: string, ro?: RequestOptions) {
    return this.request<T>('DELETE', path, ro);
  }

  private transportError(e: unknown, what: string, idempotent: boolean, attempts: number): VmconformError {
    const cause = redactText(e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e));
    // A non-idempotent call that failed in transport may or may not have happened: say so.
    const unknown = idempotent ? '' : ' (not retried: the platform may or may not have acted on it)';
    return new PlatformError(
      `${this.opts.label}: ${what} to ${this.opts.socketPath ?? this.opts.baseUrl} failed after ${attempts} attempt(s): ${cause}${unknown}`,
      'transport',
      cause,
    );
  }

  private async once<T>(method: string, path: string, ro: RequestOptions, attempt: number): Promise<HttpResponse<T>> {
    const headers: Record<string, string> = {
      accept: 'application/json',
      ...(await this.opts.headers?.()),
      ...ro.headers,
    };
    let body: string | Buffer | undefined;
    if (ro.json !== undefined) {
      body = JSON.stringify(ro.json);
      headers['content-type'] = 'application/json';
    } else if (ro.form) {
      const f = new URLSearchParams();
      for (const [k, v] of Object.entries(ro.form)) if (v !== undefined) f.set(k, String(v));
      body = f.toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    } else if (ro.raw !== undefined) {
      body = ro.raw;
      headers['content-type'] = ro.contentType ?? 'application/octet-stream';
    }
    const url = this.url(path, ro.query);
    const shown = `${method} ${url.slice(url.indexOf('/', url.indexOf('//') + 2))}${attempt > 1 ? ` (attempt ${attempt})` : ''}`;
    const sent =
      typeof body === 'string' ? ` ${body.slice(0, maxTranscriptBody)}` : body ? ` <${body.length} bytes>` : '';
    const t0 = performance.now();
    try {
      const r = await this.dispatcher.request({
        origin: new URL(url).origin,
        path: url.slice(new URL(url).origin.length),
        method: method as Dispatcher.HttpMethod,
        headers,
        ...(body !== undefined ? { body } : {}),
      });
      const bytes = Buffer.from(await r.body.arrayBuffer());
      const durationMs = performance.now() - t0;
      const flat: Record<string, string> = {};
      for (const [k, v] of Object.entries(r.headers))
        if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(', ') : v;
      const isJson = (flat['content-type'] ?? '').includes('json');
      const asBytes = ro.binary === true && r.statusCode < 300 && !isJson;
      const text = asBytes ? '' : bytes.toString('utf8');
      let parsed: unknown = asBytes ? bytes : text;
      if (isJson && text.length > 0) {
        try {
          parsed = JSON.parse(text);
        } catch (e) {
          // A truncated or garbled body: transient for reads, an error for writes.
          throw new BodyParseError(`response body is not valid JSON (${text.length} bytes): ${(e as Error).message}`);
        }
      }
      const reqIdHeader = this.opts.requestIdHeader;
      const res: HttpResponse<T> = {
        status: r.statusCode,
        ...(r.statusText ? { statusText: r.statusText } : {}),
        headers: flat,
        body: parsed as T,
        text,
        durationMs,
        ...(reqIdHeader && flat[reqIdHeader] ? { requestId: flat[reqIdHeader] } : {}),
      };
      this.opts.transcript.record({
        kind: 'http',
        request: shown + sent,
        response: `${r.statusCode}${r.statusCode >= 400 && r.statusText ? ` ${r.statusText}` : ''} ${asBytes ? `<${bytes.length} bytes>` : text.slice(0, maxTranscriptBody)}`,
        ok: r.statusCode < 400,
        durationMs,
        taskId: this.opts.taskIdOf?.(res as HttpResponse) ?? res.requestId ?? null,
      });
      return res;
    } catch (e) {
      this.opts.transcript.record({
        kind: 'http',
        request: shown + sent,
        response: '',
        ok: false,
        durationMs: performance.now() - t0,
        error: e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e),
      });
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}
