import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { AuthFailed, Conflict, NotFound, PlatformError } from '../../evidence/errors.js';
import { registerSecret } from '../../evidence/redact.js';
import { Transcript } from '../../evidence/transcript.js';
import { makeCert } from '../../host/certs.js';
import { HttpClient } from './client.js';

type Handler = (req: IncomingMessage, res: ServerResponse, hit: number) => void;
const servers: Server[] = [];
const clients: HttpClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

async function serve(handler: Handler, listen: number | string = 0): Promise<{ url: string; hits: () => number }> {
  let hits = 0;
  const s = createServer((req, res) => handler(req, res, ++hits));
  servers.push(s);
  await new Promise<void>((r) => s.listen(listen as number, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, hits: () => hits };
}

function client(baseUrl: string, extra: Partial<ConstructorParameters<typeof HttpClient>[0]> = {}) {
  const transcript = new Transcript();
  const c = new HttpClient({
    label: 'test',
    baseUrl,
    transcript,
    retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 10 },
    ...extra,
  });
  clients.push(c);
  return { c, transcript };
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

describe('HttpClient', () => {
  test('keeps a binary download as bytes, and records its size instead of its content', async () => {
    const bytes = Buffer.from([0x1f, 0x8b, 0x00, 0xff, 0xfe, 0x80]);
    const srv = await serve((_q, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(bytes);
    });
    const { c, transcript } = client(srv.url);
    const r = await c.get<Buffer>('/export', { binary: true });
    expect(Buffer.isBuffer(r.body) && r.body.equals(bytes)).toBe(true);
    expect(transcript.since(0)[0]?.response).toBe('200 <6 bytes>');
  });

  test('retries an idempotent read on 503 and records every attempt with the request id', async () => {
    const srv = await serve((_q, res, hit) =>
      hit === 1 ? json(res, 503, { error: 'busy' }) : json(res, 200, { ok: true }, { 'x-request-id': 'req-42' }),
    );
    const { c, transcript } = client(srv.url, { requestIdHeader: 'x-request-id' });
    const r = await c.get<{ ok: boolean }>('/v1/thing', { query: { a: 1, b: undefined } });
    expect(r.body.ok).toBe(true);
    expect(r.requestId).toBe('req-42');
    expect(srv.hits()).toBe(2);
    const entries = transcript.since(0);
    expect(entries.map((e) => e.ok)).toEqual([false, true]);
    expect(entries[1]?.request).toBe('GET /v1/thing?a=1 (attempt 2)');
    expect(entries[1]?.taskId).toBe('req-42');
  });

  test('never repeats a non-idempotent call: one POST, a typed error', async () => {
    const srv = await serve((_q, res) => json(res, 503, { error: 'busy' }));
    const { c } = client(srv.url);
    const err = await c.post('/v1/create', { json: { name: 'x' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlatformError);
    expect((err as PlatformError).platformCode).toBe('http-503');
    expect(srv.hits()).toBe(1);
  });

  test('maps 401, 404 and 409 onto typed errors, and lets the adapter refine the mapping', async () => {
    const srv = await serve((req, res) =>
      json(res, Number(req.url?.slice(1)), { message: req.url === '/500' ? 'VM is locked (backup)' : 'no' }),
    );
    const { c } = client(srv.url, {
      retry: { attempts: 1 },
      mapError: (res) =>
        res.status === 500 && /locked/.test(JSON.stringify(res.body)) ? new Conflict('locked') : undefined,
    });
    await expect(c.get('/401')).rejects.toBeInstanceOf(AuthFailed);
    await expect(c.get('/404')).rejects.toBeInstanceOf(NotFound);
    await expect(c.get('/409')).rejects.toBeInstanceOf(Conflict);
    await expect(c.get('/500')).rejects.toBeInstanceOf(Conflict);
  });

  test('a truncated body is retried for a read and fails a write without repeating it', async () => {
    const srv = await serve((req, res, hit) => {
      if (hit <= 2) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"data": [1, 2');
        return;
      }
      json(res, 200, { data: [1, 2, 3], method: req.method });
    });
    const { c } = client(srv.url);
    const err = await c.put('/x', { json: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlatformError);
    expect(String((err as Error).message)).toMatch(/not retried/);
    const r = await c.get<{ data: number[] }>('/x');
    expect(r.body.data).toEqual([1, 2, 3]);
    expect(srv.hits()).toBe(3);
  });

  test('a connection reset mid-response is retried for a read', async () => {
    const srv = await serve((_q, res, hit) => {
      if (hit === 1) return res.socket?.destroy();
      json(res, 200, { ok: 1 });
    });
    const { c } = client(srv.url);
    expect((await c.get<{ ok: number }>('/r')).body.ok).toBe(1);
  });

  test('an unreachable endpoint gives a typed error naming it, after bounded retries', async () => {
    const srv = await serve((_q, res) => json(res, 200, {}));
    const url = srv.url;
    await new Promise((r) => servers.pop()?.close(r));
    const { c } = client(url);
    const err = (await c.get('/v').catch((e: unknown) => e)) as PlatformError;
    expect(err).toBeInstanceOf(PlatformError);
    expect(err.message).toContain(url);
    expect(err.message).toMatch(/after 3 attempt/);
  });

  test('secrets in request bodies never reach the transcript', async () => {
    registerSecret('canary-http-s3cret');
    const srv = await serve((_q, res) => json(res, 401, { echo: 'canary-http-s3cret' }));
    const { c, transcript } = client(srv.url);
    const err = await c.post('/auth', { json: { password: 'canary-http-s3cret' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthFailed);
    expect(JSON.stringify(transcript.since(0))).not.toContain('canary-http-s3cret');
    expect((err as Error).message).not.toContain('canary-http-s3cret');
  });

  test('speaks HTTP over a unix socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmc-http-'));
    const sock = join(dir, 's.sock');
    const s = createServer((_q, res) => json(res, 200, { via: 'unix' }));
    servers.push(s);
    await new Promise<void>((r) => s.listen(sock, r));
    const { c } = client('http://unix', { socketPath: sock });
    expect((await c.get<{ via: string }>('/1.0')).body.via).toBe('unix');
    rmSync(dir, { recursive: true, force: true });
  });

  test('a pinned certificate fingerprint is enforced', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmc-tls-'));
    const { cert, key } = makeCert(dir, 'lab');
    const s = createTlsServer({ cert, key }, (_q, res) => json(res, 200, { tls: true }));
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const url = `https://127.0.0.1:${(s.address() as AddressInfo).port}`;
    const fp = new X509Certificate(cert).fingerprint256;
    expect((await client(url, { tls: { fingerprint256: fp } }).c.get<{ tls: boolean }>('/')).body.tls).toBe(true);
    const wrong = createHash('sha256').update('other').digest('hex');
    await expect(client(url, { tls: { fingerprint256: wrong } }).c.get('/')).rejects.toBeInstanceOf(AuthFailed);
    // Without a pin or CA, a self-signed certificate is refused.
    await expect(client(url, { retry: { attempts: 1 } }).c.get('/')).rejects.toBeInstanceOf(PlatformError);
    rmSync(dir, { recursive: true, force: true });
  });
});
