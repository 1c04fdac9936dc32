/**
 * The Incus REST client: the shared HttpClient over the unix socket (or HTTPS with a client
 * certificate), Incus's sync/async response envelope, operations waited on through /wait (whose
 * failures answer HTTP 200 with the error in the body), and the events websocket.
 */
import { WebSocket } from 'undici';
import type { VmconformError } from '../../evidence/errors.js';
import type { Transcript } from '../../evidence/transcript.js';
import { HttpClient, type HttpResponse, type RequestOptions, type TlsOptions } from '../http/client.js';
import { type IncusOperation, incusErrorFromResponse, operationIdOf, waitError } from './operations.js';

export interface IncusClientOptions {
  /** Unix socket path (local) or an https:// URL (remote, with `tls`). */
  socketPath?: string;
  url?: string;
  tls?: TlsOptions;
  project: string;
  transcript: Transcript;
}

/** Incus's response envelope (sync and async). */
export interface Envelope<T = unknown> {
  type: 'sync' | 'async' | 'error';
  status_code?: number;
  error_code?: number;
  error?: string;
  operation?: string;
  metadata: T;
}

export interface AsyncResult {
  /** The operation UUID: the task handle of every mutating call (OBS-01); absent when Incus answered synchronously. */
  id?: string;
  acceptedMs: number;
  doneMs: number;
  op?: IncusOperation;
}

export class IncusClient {
  readonly http: HttpClient;

  constructor(private readonly opts: IncusClientOptions) {
    this.http = new HttpClient({
      label: 'incus',
      baseUrl: opts.socketPath ? 'http://incus' : (opts.url ?? ''),
      ...(opts.socketPath ? { socketPath: opts.socketPath } : {}),
      ...(opts.tls ? { tls: opts.tls } : {}),
      transcript: opts.transcript,
      taskIdOf: (res) => operationIdOf(res.body),
      mapError: (res, what) => incusErrorFromResponse(res.status, res.body, what),
      // Operation waits are long polls; headers arrive only when the operation ends.
      timeouts: { headersMs: 180_000, bodyMs: 180_000 },
    });
  }

  get project(): string {
    return this.opts.project;
  }

  private withProject(ro: RequestOptions = {}, project = true): RequestOptions {
    return project ? { ...ro, query: { project: this.opts.project, ...ro.query } } : ro;
  }

  /** A synchronous call; returns the envelope's metadata. `project: false` for server-wide endpoints. */
  async sync<T>(method: string, path: string, ro: RequestOptions = {}, project = true): Promise<T> {
    const res = await this.http.request<Envelope<T>>(method, path, this.withProject(ro, project));
    return res.body.metadata;
  }

  async raw(method: string, path: string, ro: RequestOptions = {}): Promise<HttpResponse> {
    return this.http.request(method, path, this.withProject(ro));
  }

  /** A mutating call: waits for its operation when Incus makes one; a failed operation becomes a typed error. */
  async async(method: string, path: string, ro: RequestOptions = {}, what = `${method} ${path}`): Promise<AsyncResult> {
    const t0 = performance.now();
    const res = await this.http.request<Envelope<IncusOperation>>(method, path, this.withProject(ro));
    const acceptedMs = performance.now() - t0;
    const id = operationIdOf(res.body);
    // Some updates (e.g. PATCH of a stopped instance's config) are done when they answer.
    if (!id) return { acceptedMs, doneMs: acceptedMs };
    const op = await this.wait(id, what);
    return { id, acceptedMs, doneMs: performance.now() - t0, op };
  }

  /** GET /1.0/operations/<id>/wait: HTTP 200 even when the operation failed, so the body decides. */
  async wait(id: string, what: string, timeoutS = 120): Promise<IncusOperation> {
    const res = await this.http.request<Envelope<IncusOperation | null>>(
      'GET',
      `/1.0/operations/${id}/wait`,
      this.withProject({ query: { timeout: timeoutS } }),
    );
    const err: VmconformError | undefined = waitError(res.body, what);
    if (err) throw err;
    const op = res.body.metadata as IncusOperation;
    return op;
  }

  /**
   * The events websocket (lifecycle and operation events of our project). undici's WebSocket answers
   * the server's pings itself; the dispatcher carries the unix socket or TLS settings.
   */
  events(signal: AbortSignal, onMessage: (text: string) => void, onOpen?: () => void): Promise<void> {
    const base = this.http.baseUrl.replace(/^http/, 'ws');
    const url = `${base}/1.0/events?type=lifecycle,operation&project=${encodeURIComponent(this.opts.project)}`;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { dispatcher: this.http.dispatcher } as never);
      const stop = () => ws.close();
      signal.addEventListener('abort', stop, { once: true });
      if (onOpen) ws.addEventListener('open', () => onOpen(), { once: true });
      ws.addEventListener('message', (m) => onMessage(typeof m.data === 'string' ? m.data : String(m.data)));
      ws.addEventListener('error', (e) => {
        signal.removeEventListener('abort', stop);
        reject(new Error(`incus events websocket: ${(e as { message?: string }).message ?? 'error'}`));
      });
      ws.addEventListener('close', () => {
        signal.removeEventListener('abort', stop);
        resolve();
      });
    });
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
