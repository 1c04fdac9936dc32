/**
 * The shared HTTP client behind the loopback fault proxy: idempotent reads retried with backoff,
 * non-idempotent calls never repeated (a create's unknown outcome is settled by looking it up by name),
 * typed errors, and nothing hangs. The upstream is a tiny platform that counts what it really did.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { ConfigInvalid, NotFound, PlatformError } from '../../evidence/errors.js';
import { registerSecret } from '../../evidence/redact.js';
import { Transcript } from '../../evidence/transcript.js';
import { type FaultRule, parseFaults, startFaultProxy } from '../../host/fault-proxy.js';
import { createChecked, HttpClient, viaProxy } from './client.js';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  delete process.env.VMCONFORM_VIA_FAULTY;
});

/** A platform with VMs by name: POST /vms creates (409 when the name exists), GET /vms?name= finds. */
async function platform(listen: number | string = 0) {
  const vms = new Map<string, { id: string; name: string; secret?: string }>();
  let creates = 0;
  const s: Server = createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, v: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(v));
    };
    if (req.method === 'POST' && url.pathname === '/api/vms') {
      creates++;
      const { name } = JSON.parse(body) as { name: string };
      if (vms.has(name)) return send(409, { error: `${name} exists` });
      const vm = { id: `id-${vms.size + 1}`, name, secret: 'canary-proxy-91ab' };
      vms.set(name, vm);
      return send(201, { data: vm, padding: 'x'.repeat(200) });
    }
    if (req.method === 'GET' && url.pathname === '/api/vms') {
      const name = url.searchParams.get('name');
      return send(200, { data: [...vms.values()].filter((v) => !name || v.name === name) });
    }
    send(404, { error: 'no such path' });
  });
  await new Promise<void>((r) => s.listen(listen as number, '127.0.0.1', r));
  closers.push(() => new Promise((r) => s.close(r)));
  const url = typeof listen === 'string' ? `unix:${listen}` : `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  return { url, vms, creates: () => creates };
}

async function behind(rules: FaultRule[], extra: Partial<ConstructorParameters<typeof HttpClient>[0]> = {}) {
  const p = await platform();
  const proxy = await startFaultProxy({ upstream: p.url, rules, activeForMs: 60_000 });
  closers.push(proxy.close);
  const transcript = new Transcript();
  const c = new HttpClient({
    label: 'faulty',
    baseUrl: `${proxy.url}/api`,
    transcript,
    retry: { attempts: 4, baseDelayMs: 20, maxDelayMs: 80 },
    timeouts: { headersMs: 300, bodyMs: 300 },
    ...extra,
  });
  closers.push(() => c.close());
  return { p, proxy, c, transcript };
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

describe('HTTP client behind the fault proxy', () => {
  test('5xx on a read: retried with growing delays until it succeeds, every attempt in the transcript', async () => {
    const { c, proxy, transcript } = await behind(parseFaults('status=503*2@GET'));
    const r = await c.get<{ data: unknown[] }>('/vms');
    expect(r.status).toBe(200);
    expect(proxy.log.map((l) => l.fault)).toEqual(['status', 'status', null]);
    expect(transcript.since(0).map((e) => e.ok)).toEqual([false, false, true]);
    // Backoff: the waits before attempts 2 and 3 are at least 20 and 40 ms (lower bounds only, never a timer race).
    const at = proxy.log.map((l) => l.at);
    expect((at[1] as number) - (at[0] as number)).toBeGreaterThanOrEqual(20);
    expect((at[2] as number) - (at[1] as number)).toBeGreaterThanOrEqual(40);
  });

  test('5xx on every attempt: a typed error after the bounded attempts, no hang', async () => {
    const { c, proxy } = await behind(parseFaults('status=502*100@GET'));
    const err = await failure(c.get('/vms'));
    expect(err).toBeInstanceOf(PlatformError);
    expect((err as PlatformError).platformCode).toBe('http-502');
    expect(proxy.log.length).toBe(4);
  });

  test('5xx on a create: one POST, never repeated, typed error', async () => {
    const { c, p, proxy } = await behind(parseFaults('status=503*3@POST'));
    const err = await failure(c.post('/vms', { json: { name: 'a' } }));
    expect((err as PlatformError).platformCode).toBe('http-503');
    expect(proxy.log.filter((l) => l.method === 'POST').length).toBe(1);
    expect(p.creates()).toBe(0);
  });

  test('connection reset before the platform saw a read: retried and answered', async () => {
    const { c, proxy } = await behind(parseFaults('reset*2@GET'));
    expect((await c.get('/vms')).status).toBe(200);
    expect(proxy.log.map((l) => [l.fault, l.forwarded])).toEqual([
      ['reset', false],
      ['reset', false],
      [null, true],
    ]);
  });

  test('reply lost after the platform created the VM: not repeated; settled by looking the name up', async () => {
    const { c, p, proxy } = await behind(parseFaults('reset-after-forward*1@POST'));
    const err = await failure(c.post('/vms', { json: { name: 'web-1' } }));
    expect(err).toBeInstanceOf(PlatformError);
    expect((err as PlatformError).message).toMatch(/not retried: the platform may or may not have acted/);
    expect(p.creates()).toBe(1);

    // The same create through createChecked: the lost reply is settled by a read, never by a second POST.
    const find = async (name: string) =>
      (await c.get<{ data: { id: string; name: string }[] }>('/vms', { query: { name } })).body.data[0];
    const settle = await behind(parseFaults('reset-after-forward*1@POST'));
    const r = await createChecked(
      () => settle.c.post<{ data: { id: string } }>('/vms', { json: { name: 'web-2' } }).then((x) => x.body.data),
      () => settle.c.get<{ data: { id: string }[] }>('/vms', { query: { name: 'web-2' } }).then((x) => x.body.data[0]),
    );
    expect(r).toEqual({ value: { id: 'id-1', name: 'web-2', secret: 'canary-proxy-91ab' }, settledBy: 'lookup' });
    expect(settle.p.creates()).toBe(1);
    expect(settle.proxy.log.filter((l) => l.method === 'POST').length).toBe(1);
    expect(await find('web-1')).toMatchObject({ name: 'web-1' });
    expect(proxy.log.filter((l) => l.method === 'POST').length).toBe(1);
  });

  test('a create whose request never arrived is reported, not invented, when the lookup finds nothing', async () => {
    const { c, p } = await behind(parseFaults('reset*1@POST'));
    const err = await failure(
      createChecked(
        () => c.post('/vms', { json: { name: 'web-3' } }),
        () => c.get<{ data: unknown[] }>('/vms', { query: { name: 'web-3' } }).then((x) => x.body.data[0]),
      ),
    );
    expect(err).toBeInstanceOf(PlatformError);
    expect((err as Error).message).toMatch(/not found by name afterwards/);
    expect(p.creates()).toBe(0);
  });

  test('truncated body: a read is retried, a write fails typed without a repeat; no secret in errors or transcript', async () => {
    registerSecret('canary-proxy-91ab');
    const { c, p, proxy, transcript } = await behind(parseFaults('truncate=20*1@POST,truncate=5*1@GET'));
    const err = await failure(c.post('/vms', { json: { name: 'db-1' } }));
    expect(err).toBeInstanceOf(PlatformError);
    expect(p.creates()).toBe(1);
    const r = await c.get<{ data: unknown[] }>('/vms');
    expect(r.body.data.length).toBe(1);
    expect(proxy.log.map((l) => `${l.method}:${l.fault}`)).toEqual(['POST:truncate', 'GET:truncate', 'GET:null']);
    expect(String((err as Error).message)).not.toContain('canary-proxy-91ab');
    expect(JSON.stringify(transcript.since(0))).not.toContain('canary-proxy-91ab');
    expect(JSON.stringify(transcript.since(0))).toContain('[REDACTED]');
  });

  test('slow headers past the headers timeout: a read retries, a write gives a typed timeout error once', async () => {
    const { c, p, proxy } = await behind(parseFaults('slow-headers=1500*1@GET,slow-headers=1500*1@POST'));
    expect((await c.get('/vms')).status).toBe(200);
    const err = await failure(c.post('/vms', { json: { name: 'slow' } }));
    expect(err).toBeInstanceOf(PlatformError);
    expect((err as Error).message).toMatch(/HeadersTimeout|Headers Timeout/i);
    expect(p.creates()).toBe(1);
    expect(proxy.log.map((l) => l.fault)).toEqual(['slow-headers', null, 'slow-headers']);
  });

  test('added latency under the timeouts changes nothing but the time', async () => {
    const { c, proxy } = await behind(parseFaults('latency=100*3'));
    for (let i = 0; i < 3; i++) expect((await c.get('/vms')).status).toBe(200);
    expect(proxy.log.map((l) => l.fault)).toEqual(['latency', 'latency', 'latency']);
    expect(proxy.remaining()).toEqual([0]);
  });

  test('VMCONFORM_VIA_<LABEL> puts the proxy in front of an adapter unchanged, even one on a unix socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmc-via-'));
    closers.push(async () => rmSync(dir, { recursive: true, force: true }));
    const p = await platform(join(dir, 'platform.sock'));
    const proxy = await startFaultProxy({ upstream: p.url, rules: parseFaults('status=500*1') });
    closers.push(proxy.close);
    process.env.VMCONFORM_VIA_FAULTY = proxy.url;
    const c = new HttpClient({
      label: 'faulty',
      baseUrl: 'http://unix/api',
      socketPath: join(dir, 'nonexistent-so-only-the-proxy-works.sock'),
      transcript: new Transcript(),
      retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 5 },
    });
    closers.push(() => c.close());
    expect((await c.get<{ data: unknown[] }>('/vms')).body.data).toEqual([]);
    expect(proxy.log.map((l) => [l.path, l.fault])).toEqual([
      ['/api/vms', 'status'],
      ['/api/vms', null],
    ]);
    await expect(c.get('/nothing')).rejects.toBeInstanceOf(NotFound);
  });

  test('the proxy only accepts loopback, bounded faults', () => {
    expect(() => viaProxy('x', { VMCONFORM_VIA_X: 'http://10.0.0.1:80' })).toThrow(ConfigInvalid);
    expect(viaProxy('incus', { VMCONFORM_VIA_INCUS: 'http://127.0.0.1:18080/' })).toBe('http://127.0.0.1:18080');
    expect(() => parseFaults('status=503*101')).toThrow(/bounded/);
    expect(() => parseFaults('latency*1')).toThrow(/needs =milliseconds/);
    expect(() => parseFaults('latency=999999')).toThrow(/0\.\.120000/);
    expect(() => parseFaults('explode*1')).toThrow(/unknown kind/);
    expect(() => parseFaults('status=200')).toThrow(/400\.\.599/);
  });

  test('skipping certificate checks upstream is refused unless the upstream is on loopback', async () => {
    await expect(
      startFaultProxy({ upstream: 'https://192.0.2.1:8006', rules: [], upstreamInsecure: true }),
    ).rejects.toThrow(/only allowed for a loopback upstream/);
  });

  test('after its active window the proxy only forwards', async () => {
    const p = await platform();
    const proxy = await startFaultProxy({ upstream: p.url, rules: parseFaults('status=500*5'), activeForMs: 0 });
    closers.push(proxy.close);
    const c = new HttpClient({
      label: 't',
      baseUrl: `${proxy.url}/api`,
      transcript: new Transcript(),
      retry: { attempts: 1 },
    });
    closers.push(() => c.close());
    await new Promise((r) => setTimeout(r, 5));
    expect((await c.get('/vms')).status).toBe(200);
    expect(proxy.remaining()).toEqual([5]);
  });
});
