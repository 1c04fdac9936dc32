/**
 * The Proxmox VE API over the shared HttpClient: API-token auth, `{ data }` unwrapping, errors mapped
 * from the status line (Proxmox puts its message there, the body is `{"data":null}`), and task
 * polling: every UPID is followed under a wait policy until it stops, and a failed task's log is
 * fetched and carried in the error (OBS-01, OBS-03, OBS-04).
 */

import { AuthFailed, Conflict, NotFound, PlatformError, type VmconformError } from '../../evidence/errors.js';
import type { Transcript } from '../../evidence/transcript.js';
import { type WaitPolicy, waitFor } from '../../host/wait.js';
import { HttpClient, type HttpResponse, type TlsOptions } from '../http/client.js';
import { isUpid, parseUpid } from './mapping.js';

export interface ProxmoxClientOptions {
  baseUrl: string;
  tokenId: string;
  tokenSecret: string;
  tls: TlsOptions;
  transcript: Transcript;
}

export type Params = Record<string, string | number | boolean | undefined>;

/** Proxmox error text -> typed error. Messages are matched because Proxmox gives no error codes. */
export function mapProxmoxError(
  status: number,
  text: string,
  what: string,
  errors?: Record<string, string>,
): VmconformError {
  const detail = errors
    ? `${text}: ${Object.entries(errors)
        .map(([k, v]) => `${k}: ${v}`)
        .join('; ')}`
    : text;
  const msg = `proxmox: ${what} answered HTTP ${status}: ${detail}`;
  if (status === 401 || status === 403) return new AuthFailed(msg);
  if (/does not exist|no such (VM|task|cluster node)|not found/i.test(text) && !errors) return new NotFound(msg);
  if (/VM is locked|already running|not running|already exists|can't lock file|is running - destroy failed/i.test(text))
    return new Conflict(msg);
  return new PlatformError(msg, `http-${status}`, detail);
}

export class TaskFailed extends PlatformError {
  constructor(
    readonly upid: string,
    readonly exitstatus: string,
    readonly log: string[],
  ) {
    super(
      `proxmox: task ${parseUpid(upid).type} (${upid}) failed: ${exitstatus}; log: ${log.slice(-10).join(' | ')}`,
      `task:${parseUpid(upid).type}`,
      exitstatus,
    );
  }
}

/** A failed task: state conflicts and missing objects keep their type, anything else is a TaskFailed. */
export function taskError(upid: string, exitstatus: string, log: string[]): VmconformError {
  const failed = new TaskFailed(upid, exitstatus, log);
  const mapped = mapProxmoxError(500, exitstatus, `task ${parseUpid(upid).type}`);
  if (mapped instanceof Conflict || mapped instanceof NotFound) {
    const e = mapped instanceof Conflict ? new Conflict(failed.message) : new NotFound(failed.message);
    return e;
  }
  return failed;
}

/** Header the vmconform simulator sends on every answer; a real Proxmox VE never does. */
export const simulatorHeader = 'x-vmconform-simulator';

export class ProxmoxClient {
  /** True once an answer came from the vmconform simulator, whatever the config says. */
  simulatorSeen = false;

  readonly http: HttpClient;

  constructor(o: ProxmoxClientOptions) {
    this.http = new HttpClient({
      label: 'proxmox',
      baseUrl: o.baseUrl,
      tls: o.tls,
      transcript: o.transcript,
      // No CSRF token is needed with API tokens; the secret is registered for redaction by resolveSecret.
      headers: () => ({ authorization: `PVEAPIToken=${o.tokenId}=${o.tokenSecret}` }),
      taskIdOf: (res) => {
        const d = (res.body as { data?: unknown } | undefined)?.data;
        return isUpid(d) ? d : undefined;
      },
      mapError: (res: HttpResponse, what: string) =>
        mapProxmoxError(
          res.status,
          res.statusText ?? '',
          what,
          (res.body as { errors?: Record<string, string> } | undefined)?.errors,
        ),
      // Reads are retried on transient faults (500s included); writes never are (HttpClient's rule).
      retry: { attempts: 4, baseDelayMs: 250, maxDelayMs: 2_000 },
    });
  }

  async call<T = unknown>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, params: Params = {}): Promise<T> {
    const clean = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined)) as Params;
    const bool = (v: Params[string]) => (typeof v === 'boolean' ? (v ? 1 : 0) : v);
    const norm = Object.fromEntries(Object.entries(clean).map(([k, v]) => [k, bool(v)])) as Params;
    const res = await this.http.request<{ data: T }>(
      method,
      path,
      method === 'GET' || method === 'DELETE' ? { query: norm } : { form: norm },
    );
    if (res.headers[simulatorHeader]) this.simulatorSeen = true;
    return (res.body as { data: T }).data;
  }

  get<T = unknown>(path: string, params?: Params) {
    return this.call<T>('GET', path, params);
  }

  /** Polls a task until it stops; a failed task throws TaskFailed with its log. */
  async waitTask(
    upid: string,
    policy: WaitPolicy,
    opts: { signal?: AbortSignal; whileRunning?: () => Promise<void> } = {},
  ): Promise<{ exitstatus: string; waitedMs: number }> {
    const { node } = parseUpid(upid);
    const path = `/nodes/${encodeURIComponent(node)}/tasks/${encodeURIComponent(upid)}`;
    let last = 'not polled yet';
    const { value, waitedMs } = await waitFor(
      `proxmox task ${upid}`,
      policy,
      async () => {
        const s = await this.get<{ status: string; exitstatus?: string }>(`${path}/status`);
        last = `${s.status}${s.exitstatus ? ` (${s.exitstatus})` : ''}`;
        if (s.status === 'stopped') return s.exitstatus ?? '';
        await opts.whileRunning?.();
        return undefined;
      },
      { describeLast: () => last, ...(opts.signal ? { signal: opts.signal } : {}) },
    );
    if (value !== 'OK' && !/^WARNINGS: \d+$/.test(value)) {
      const log = await this.taskLog(upid).catch((e: unknown) => [`(task log unreadable: ${String(e)})`]);
      throw taskError(upid, value || 'stopped without an exit status', log);
    }
    return { exitstatus: value, waitedMs };
  }

  async taskLog(upid: string): Promise<string[]> {
    const { node } = parseUpid(upid);
    const lines = await this.get<{ n: number; t: string }[]>(
      `/nodes/${encodeURIComponent(node)}/tasks/${encodeURIComponent(upid)}/log`,
      { start: 0, limit: 500 },
    );
    return lines.map((l) => l.t);
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
