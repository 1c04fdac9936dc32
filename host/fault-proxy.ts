/**
 * A fault-injecting HTTP proxy on loopback, put in front of any REST platform (or simulator) to prove the
 * shared HTTP client's behaviour under faults: added latency, 5xx, connection reset (before or after the
 * platform saw the request), truncated body, slow headers. Every fault is bounded in count, every delay
 * is capped, and after `activeForMs` the proxy only forwards, so a fault test cannot hang or loop.
 */
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type RequestOptions,
  type Server,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';

export type Fault =
  /** Delay before forwarding. */
  | { kind: 'latency'; ms: number }
  /** Answer with this status without forwarding: the platform never sees the request. */
  | { kind: 'status'; status: number }
  /** Drop the client's connection without forwarding. */
  | { kind: 'reset' }
  /** Forward (the platform acts on it), then drop the client's connection: the reply is lost. */
  | { kind: 'reset-after-forward' }
  /** Forward, then send the headers and only the first `bytes` of the body (Content-Length says more). */
  | { kind: 'truncate'; bytes: number }
  /** Forward, then hold the response headers back this long. */
  | { kind: 'slow-headers'; ms: number };

export interface FaultRule {
  fault: Fault;
  /** How many matching requests get this fault (bounded: at most 100). */
  times: number;
  method?: string;
  /** Regular expression source matched against the request path. */
  path?: string;
}

export interface FaultProxyOptions {
  /** http(s)://host:port of the platform, or unix:/path/to/socket (e.g. Incus). */
  upstream: string;
  rules: FaultRule[];
  /** Loopback port to listen on; 0 picks a free one. */
  port?: number;
  /** After this long the proxy stops injecting faults and only forwards. Default 10 min. */
  activeForMs?: number;
  /** PEM CA for an https upstream (verification stays on). */
  upstreamCa?: string;
  /** Skip certificate verification of an https upstream: only for a loopback simulator with a self-signed cert. */
  upstreamInsecure?: boolean;
}

export interface ProxiedRequest {
  method: string;
  path: string;
  /** Wall-clock ms when it arrived at the proxy. */
  at: number;
  fault: Fault['kind'] | null;
  /** Whether the platform received it. */
  forwarded: boolean;
  status?: number;
}

export interface FaultProxy {
  url: string;
  /** Every request seen, in order. */
  log: ProxiedRequest[];
  /** How many faults of each rule are left. */
  remaining(): number[];
  close(): Promise<void>;
}

const maxTimes = 100;
const maxDelayMs = 120_000;

/** Checks rules before anything listens: bounded counts and delays, valid statuses and patterns. */
export function validateRules(rules: FaultRule[]): FaultRule[] {
  return rules.map((r, i) => {
    const where = `faults[${i}]`;
    if (!Number.isInteger(r.times) || r.times < 1 || r.times > maxTimes)
      throw new Error(`${where}.times: expected an integer 1..${maxTimes} (faults are bounded), got ${r.times}`);
    const f = r.fault;
    if ((f.kind === 'latency' || f.kind === 'slow-headers') && !(f.ms >= 0 && f.ms <= maxDelayMs))
      throw new Error(`${where}.ms: expected 0..${maxDelayMs}, got ${f.ms}`);
    if (f.kind === 'status' && !(f.status >= 400 && f.status <= 599))
      throw new Error(`${where}.status: expected an HTTP error status 400..599, got ${f.status}`);
    if (f.kind === 'truncate' && !(Number.isInteger(f.bytes) && f.bytes >= 0))
      throw new Error(`${where}.bytes: expected a non-negative integer, got ${f.bytes}`);
    if (r.path !== undefined) new RegExp(r.path);
    return r;
  });
}

/**
 * Parses the compact form used in env and on the command line, comma-separated:
 * `latency=300*5`, `status=503*2`, `reset*1`, `reset-after-forward*1@POST`, `truncate=10*1@GET:/1.0/instances`,
 * `slow-headers=2000*1`. `*N` is the count (default 1); `@METHOD` and `:PATH-REGEX` narrow the match.
 */
export function parseFaults(spec: string): FaultRule[] {
  const rules = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((item): FaultRule => {
      const m = /^([a-z-]+)(?:=(\d+))?(?:\*(\d+))?(?:@([A-Z]+))?(?::(.+))?$/.exec(item);
      if (!m) throw new Error(`fault '${item}': expected kind[=value][*count][@METHOD][:path-regex]`);
      const [, kind, value, times, method, path] = m;
      const n = value === undefined ? undefined : Number(value);
      const need = (what: string) => {
        if (n === undefined) throw new Error(`fault '${item}': ${kind} needs =${what}`);
        return n;
      };
      const fault: Fault =
        kind === 'latency'
          ? { kind, ms: need('milliseconds') }
          : kind === 'slow-headers'
            ? { kind, ms: need('milliseconds') }
            : kind === 'status'
              ? { kind, status: need('status') }
              : kind === 'truncate'
                ? { kind, bytes: n ?? 0 }
                : kind === 'reset' || kind === 'reset-after-forward'
                  ? { kind }
                  : (() => {
                      throw new Error(
                        `fault '${item}': unknown kind '${kind}' (latency, status, reset, reset-after-forward, truncate, slow-headers)`,
                      );
                    })();
      return {
        fault,
        times: times === undefined ? 1 : Number(times),
        ...(method ? { method } : {}),
        ...(path ? { path } : {}),
      };
    });
  return validateRules(rules);
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, Math.min(ms, maxDelayMs)));

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const rules = validateRules(opts.rules).map((r) => ({
    ...r,
    left: r.times,
    re: r.path ? new RegExp(r.path) : undefined,
  }));
  const activeUntil = Date.now() + (opts.activeForMs ?? 600_000);
  const log: ProxiedRequest[] = [];
  const up = opts.upstream.startsWith('unix:') ? undefined : new URL(opts.upstream);
  const socketPath = up ? undefined : opts.upstream.slice('unix:'.length);
  if (opts.upstreamInsecure && !(up && ['127.0.0.1', 'localhost', '[::1]'].includes(up.hostname)))
    throw new Error(`upstreamInsecure is only allowed for a loopback upstream, not ${opts.upstream}`);

  const pick = (method: string, path: string) => {
    if (Date.now() > activeUntil) return undefined;
    const r = rules.find((x) => x.left > 0 && (!x.method || x.method === method) && (!x.re || x.re.test(path)));
    if (r) r.left--;
    return r?.fault;
  };

  const forward = (req: IncomingMessage, body: Buffer) =>
    new Promise<{ res: IncomingMessage; body: Buffer }>((resolve, reject) => {
      const headers = { ...req.headers };
      if (up) headers.host = up.host;
      const o: RequestOptions = {
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        headers,
        ...(socketPath ? { socketPath } : { host: up?.hostname, port: up?.port }),
      };
      const send = up?.protocol === 'https:' ? httpsRequest : httpRequest;
      const tls = {
        ...(opts.upstreamCa ? { ca: opts.upstreamCa } : {}),
        ...(opts.upstreamInsecure ? { rejectUnauthorized: false } : {}),
      };
      const r = send({ ...o, ...tls }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ res, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      r.on('error', reject);
      r.end(body);
    });

  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const fault = pick(method, path);
    const entry: ProxiedRequest = { method, path, at: Date.now(), fault: fault?.kind ?? null, forwarded: false };
    log.push(entry);
    if (fault?.kind === 'status') {
      entry.status = fault.status;
      res.writeHead(fault.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: `injected ${fault.status} by the vmconform fault proxy` }));
      return;
    }
    if (fault?.kind === 'reset') return void req.socket.destroy();
    if (fault?.kind === 'latency') await wait(fault.ms);
    let upstream: { res: IncomingMessage; body: Buffer };
    try {
      upstream = await forward(req, Buffer.concat(chunks));
      entry.forwarded = true;
      entry.status = upstream.res.statusCode;
    } catch (e) {
      entry.status = 502;
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`fault proxy: upstream ${opts.upstream} failed: ${(e as Error).message}`);
      return;
    }
    if (fault?.kind === 'reset-after-forward') return void req.socket.destroy();
    if (fault?.kind === 'slow-headers') await wait(fault.ms);
    const headers = { ...upstream.res.headers };
    delete headers['transfer-encoding'];
    headers['content-length'] = String(upstream.body.length);
    res.writeHead(upstream.res.statusCode ?? 502, headers);
    if (fault?.kind === 'truncate') {
      // Headers promise the full length; the connection ends early, as a dying proxy or platform does.
      res.write(upstream.body.subarray(0, Math.min(fault.bytes, Math.max(0, upstream.body.length - 1))));
      setImmediate(() => req.socket.destroy());
      return;
    }
    res.end(upstream.body);
  });
  await new Promise<void>((r) => server.listen(opts.port ?? 0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    remaining: () => rules.map((r) => r.left),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
