/**
 * The session and the driver against an in-process simulator on a free port: token renewal, 401
 * re-authentication, pinned microversions, and a create the scheduler fails (fault -> typed error,
 * nothing left behind).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Transcript } from '../../evidence/transcript.js';
import { lastState } from '../../host/guest/report.js';
import { AuthFailed, PlatformError } from '../contract/index.js';
import { openStackDriver } from './adapter.js';
import { microversionsFor, type OpenStackAuth, OpenStackSession } from './client.js';
import { SimCloud } from './simulator/cloud.js';
import { router } from './simulator/services.js';

const password = 'unit-test-password';
let dir: string;
let sim: SimCloud;
let srv: Server;
let authUrl: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vmc-os-unit-'));
  // Port 0 first to learn a free port, then the simulator listens there (its catalog needs the port).
  const probe = new SimCloud({ port: 0, stateDir: dir, password, tokenTtlS: 3600, stepMs: 20 });
  const s0 = await probe.listen(router(probe));
  const port = (s0.address() as AddressInfo).port;
  await new Promise((r) => s0.close(r));
  sim = new SimCloud({ port, stateDir: dir, password, tokenTtlS: 3600, stepMs: 20 });
  await sim.init();
  srv = await sim.listen(router(sim));
  authUrl = `http://127.0.0.1:${port}/identity/v3`;
});

afterAll(async () => {
  sim.stop();
  await new Promise((r) => srv.close(r));
  await rm(dir, { recursive: true, force: true });
});

const auth = (pw = password): OpenStackAuth => ({
  method: 'password',
  username: 'admin',
  userDomain: 'Default',
  project: 'admin',
  projectDomain: 'Default',
  password: pw,
});

const session = (transcript: Transcript, a = auth()) =>
  new OpenStackSession({
    authUrl,
    auth: a,
    interface: 'public',
    transcript,
    microversions: { ...microversionsFor(), compute: { required: '2.79', preferred: '2.90' } },
  });

describe('OpenStack session', () => {
  test('endpoints from the catalog, microversion negotiated, pinned and sent', async () => {
    const t = new Transcript();
    const s = session(t);
    const r = await s.call('compute', 'GET', '/servers/detail');
    expect(s.pinned.compute).toEqual({ pinned: '2.90', serverMin: '2.1', serverMax: '2.93' });
    expect(r.headers['openstack-api-version']).toBe('compute 2.90');
    expect(r.requestId).toMatch(/^req-[0-9a-f-]{36}$/);
    expect(s.simulator).toBe(true);
    // The token never reaches the transcript.
    expect(JSON.stringify(t.since(0))).not.toMatch(/gAAAAA/);
    await s.close();
  });

  test('a rejected token is renewed once and the call succeeds', async () => {
    const t = new Transcript();
    const s = session(t);
    await s.call('compute', 'GET', '/flavors/detail');
    // Simulate a token the cloud no longer accepts (revoked, or keys rotated) while the client thinks it valid.
    (s as unknown as { token: string }).token = 'gAAAAAbm90LWEtdG9rZW4.bogus';
    const r = await s.call('compute', 'GET', '/flavors/detail');
    expect(r.status).toBe(200);
    const calls = t.since(0).map((e) => `${e.request.split(' ').slice(0, 2).join(' ')} ${e.response.slice(0, 3)}`);
    expect(calls.filter((c) => c.includes('/auth/tokens'))).toHaveLength(2);
    expect(calls.some((c) => c.endsWith('401'))).toBe(true);
    await s.close();
  });

  test('a token close to expiry is renewed before the call', async () => {
    const t = new Transcript();
    const s = session(t);
    await s.authenticate();
    (s as unknown as { info: { expiresAt: number } }).info.expiresAt = Date.now() + 5_000;
    await s.call('network', 'GET', '/v2.0/networks');
    expect(t.since(0).filter((e) => e.request.includes('/auth/tokens'))).toHaveLength(2);
    expect(s.tokenExpiresAt).toBeGreaterThan(Date.now() + 600_000);
    await s.close();
  });

  test('wrong password: AuthFailed with Keystone message', async () => {
    const s = session(new Transcript(), auth('wrong-password'));
    await expect(s.call('compute', 'GET', '/servers')).rejects.toThrow(AuthFailed);
    await expect(s.call('compute', 'GET', '/servers')).rejects.toThrow(/requires authentication/);
    await s.close();
  });
});

const driverFor = (t: Transcript) =>
  openStackDriver(
    { endpoint: authUrl, image: 'vmc-base-v1', bootDiskBytes: 1024 ** 3, evidence: 'simulated', prereqMissing: {} },
    session(t),
    { runId: '20261125t0000-abcd', transcript: t },
  );

describe('OpenStack driver', () => {
  test('a server the scheduler cannot place: fault as a typed error, nothing left behind', async () => {
    const t = new Transcript();
    const d = driverFor(t);
    const before = { vols: (await d.volumes()).length, ports: sim.cloud.ports.length };
    const err = await d
      .create({
        name: 'vmc-20261125t0000-abcd-huge',
        vcpus: 64,
        memoryMiB: 256,
        image: 'vmc-base-v1',
        disks: [{ name: 'd1', sizeBytes: 1024 ** 3 }],
        nics: [{ network: 'vmc-net1', mac: '52:54:00:99:00:01' }],
        metadata: {},
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(PlatformError);
    expect((err as PlatformError).platformCode).toBe('nova-fault-500');
    expect((err as Error).message).toMatch(/No valid host was found/);
    expect(await d.list({ owner: '20261125t0000-abcd' })).toEqual([]);
    expect((await d.volumes()).length).toBe(before.vols);
    expect(sim.cloud.ports.length).toBe(before.ports);
    await d.close();
  });

  test('create leaves the server stopped; request ids resolve to instance actions', async () => {
    const t = new Transcript();
    const d = driverFor(t);
    const r = await d.create({
      name: 'vmc-20261125t0000-abcd-a',
      vcpus: 1,
      memoryMiB: 128,
      image: 'vmc-base-v1',
      disks: [],
      nics: [{ network: 'vmc-net1' }],
      metadata: { k: 'v' },
    });
    const st = await d.inspect(r.result);
    expect([st.power, st.config.metadata, st.config.owner?.runId]).toEqual([
      'stopped',
      { k: 'v' },
      '20261125t0000-abcd',
    ]);
    expect(r.handle.kind).toBe('request');
    expect(await d.task(r.handle)).toMatchObject({ status: 'succeeded' });
    // The guest view starts after the boot Nova's create did.
    expect((await d.guest(r.result).read()).events).toEqual([]);
    await d.delete(r.result);
    expect(sim.cloud.ports.filter((p) => p.name.startsWith('vmc-20261125t0000-abcd-a'))).toEqual([]);
    await d.close();
  });

  test('backup then restore: a new VM whose data disk holds what was written before', async () => {
    const t = new Transcript();
    const d = driverFor(t);
    const vm = (
      await d.create({
        name: 'vmc-20261125t0000-abcd-bk',
        vcpus: 1,
        memoryMiB: 128,
        image: 'vmc-base-v1',
        disks: [{ name: 'data1', sizeBytes: 1024 ** 3 }],
        nics: [{ network: 'vmc-net2' }],
        metadata: { tenant: 'acme' },
      })
    ).result;
    const data = (await d.inspect(vm)).config.disks.find((x) => x.role === 'data');
    // Stands in for the guest writing its data (the simulated disk is a file).
    const file = sim.cloud.volumes.find((v) => v.id === data?.id)?.file as string;
    await writeFile(file, 'VMCDATA:before-backup\n', { flag: 'r+' });
    const b = (await d.backup(vm)).result;
    expect((await d.backups()).map((x) => x.id)).toContain(b.id);
    await d.delete(vm);
    const restored = (await d.restore(b, { name: 'vmc-20261125t0000-abcd-rs' })).result;
    const st = await d.inspect(restored);
    expect([st.config.metadata, st.config.nics.map((n) => n.network), st.config.disks.length]).toEqual([
      { tenant: 'acme' },
      ['vmc-net2'],
      2,
    ]);
    await d.start(restored);
    let hdr: string | undefined;
    for (let i = 0; i < 50 && !hdr; i++) {
      hdr = lastState(await d.guest(restored).read())?.disks.find((x) => x.name === 'vdb')?.hdr;
      if (!hdr) await new Promise((r) => setTimeout(r, 20));
    }
    expect(hdr).toBe('VMCDATA:before-backup');
    await d.delete(restored);
    await d.deleteBackup(b.id);
    expect(await d.owned()).toEqual([]);
    await d.close();
  });
});
