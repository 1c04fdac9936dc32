/**
 * Contract tests: the Proxmox adapter against the schema-validating simulator, in process on
 * loopback, with the faults a real cluster produces injected. Every request the adapter makes must
 * be one the official schema allows; a request it does not allow must fail.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Transcript } from '../../evidence/transcript.js';
import { lastState } from '../../host/guest/report.js';
import { defaultWaitPolicies } from '../../host/wait.js';
import { AuthFailed, Conflict, NotFound, NotOwned, PlatformError, removeOwned } from '../contract/index.js';
import { proxmoxDriver } from './adapter.js';
import { ProxmoxClient, TaskFailed } from './client.js';
import { simulatorTestbed, testSpec as spec } from './simulator/testbed.js';

const bed = simulatorTestbed('pve-test');
const MiB = 2 ** 20;

async function lab(version: string) {
  const { sim, config } = await bed.start(version, { authDelayMs: 200 });
  const transcript = new Transcript();
  const driver = proxmoxDriver(config, { runId: '20261125t0000-abcd', transcript });
  return { sim, config, driver, transcript };
}

let v8: Awaited<ReturnType<typeof lab>>;
let v9: Awaited<ReturnType<typeof lab>>;
let v7: Awaited<ReturnType<typeof lab>>;
beforeAll(async () => {
  v8 = await lab('8.4.1');
  v9 = await lab('9.2.11');
  v7 = await lab('7.4-17');
});
afterAll(async () => {
  for (const l of [v8, v9, v7]) {
    await l.driver.close();
  }
  await bed.close();
});

describe('the schema guards every request', () => {
  test('a request the schema does not allow fails with Proxmox 400 shape', async () => {
    const api = new ProxmoxClient({ ...v8.config, transcript: new Transcript() });
    const vm = await v8.driver.create(spec('vmc-schema'));
    const vmid = v8.sim.vmidOf('vmc-schema');
    const cases: [Record<string, string | number>, RegExp][] = [
      [{ bogus: 1 }, /bogus: property is not defined in schema/],
      [{ cores: 'two' }, /cores: type check \('integer'\) failed/],
      [{ net0: 'virtio=52:54:00:AA:00:09,bridge=vmbr0,speed=10' }, /net0: invalid format - unknown key 'speed'/],
      [
        { net0: 'virtio=52:54:00:AA:00:09,bridge=vmbr0,tag=5000' },
        /net0: invalid format - tag: value may have a maximum value of 4094/,
      ],
      [{ tags: 'has space;Ünicode' }, /tags: invalid format/],
    ];
    for (const [params, why] of cases) {
      const err = await api.call('POST', `/nodes/pve1/qemu/${vmid}/config`, params).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PlatformError);
      expect((err as PlatformError).platformCode).toBe('http-400');
      expect(String((err as Error).message)).toMatch(why);
    }
    // An endpoint the reduced schema does not list is not served at all.
    await expect(api.call('POST', `/nodes/pve1/qemu/${vmid}/migrate`, { target: 'pve2' })).rejects.toThrow(/HTTP 501/);
    await v8.driver.delete(vm.result);
    await api.close();
  });

  test("each release mode validates by its own schema's parameter definitions", async () => {
    // network type=fabric is new in 9.x's enumeration: 8.4's schema refuses it, 9.x's allows it.
    const call = async (l: typeof v8) => {
      const api = new ProxmoxClient({ ...l.config, transcript: new Transcript() });
      try {
        return await api.get('/nodes/pve1/network', { type: 'fabric' }).then(
          () => 'ok',
          (e: unknown) => String(e),
        );
      } finally {
        await api.close();
      }
    };
    expect(await call(v8)).toMatch(
      /HTTP 400: Parameter verification failed.: type: value 'fabric' does not have a value in the enumeration/,
    );
    expect(await call(v9)).toBe('ok');
  });

  // 8.4 validates against pve-docs 8.4's schema, 9.x against 9.x's parameter definitions (api-schema.json's otherReleases).
  test.each(['8.4', '9.x'])('a full adapter flow sends only requests the %s schema allows', async (release) => {
    const l = release === '8.4' ? v8 : v9;
    const before = l.sim.rejected.length;
    const d = l.driver;
    const vm = (
      await d.create(
        spec('vmc-flow', { disks: [{ name: 'data1', sizeBytes: 8 * MiB }], userData: '#!/bin/sh\ntrue\n' }),
      )
    ).result;
    await d.start(vm);
    const disk = (await d.attachDisk(vm, { name: 'hot1', sizeBytes: 4 * MiB })).result;
    await d.resizeDisk(vm, disk.id, 12 * MiB);
    await d.attachNic(vm, { network: 'vmbr1', mac: '52:54:00:aa:00:02', vlan: 20 });
    await d.detachNic(vm, '52:54:00:aa:00:02');
    await d.reboot(vm);
    const g = await d.guest(vm).read();
    expect(lastState(g)?.disks.find((x) => x.serial === 'hot1')?.bytes).toBe(12 * MiB);
    await d.stop(vm, { force: false });
    await d.detachDisk(vm, disk.id);
    const unused = (await d.volumes()).find((v) => v.attachedTo.length === 0 && v.id.includes('vm-'));
    expect(unused).toBeDefined();
    await d.deleteVolume(unused?.id ?? '');
    const b = (await d.backup(vm)).result;
    const restored = (await d.restore(b, { name: 'vmc-flow-restored' })).result;
    expect(restored.id).not.toBe(vm.id);
    expect((await d.inspect(restored)).config.metadata).toEqual({ tenant: 't' });
    await d.deleteBackup(b.id);
    await d.delete(restored);
    await d.delete(vm);
    expect(await d.consoleLog(vm).catch((e: unknown) => e)).toBeInstanceOf(NotFound);
    expect(l.sim.rejected.slice(before)).toEqual([]);
  });
});

describe('faults a real cluster produces', () => {
  test('concurrent creates race for /cluster/nextid: the refused ones retry with a fresh VMID', async () => {
    // Eight at once, as the bench's largest scale step: each round of the race has one winner.
    const made = await Promise.all(Array.from({ length: 8 }, (_, i) => v8.driver.create(spec(`vmc-race-${i}`))));
    expect(new Set(made.map((r) => r.result.id)).size).toBe(8);
    for (const r of made) await v8.driver.delete(r.result);
  });

  test('a bad token gets 401 after a delay: AuthFailed', async () => {
    const bad = proxmoxDriver(
      { ...v8.config, tokenSecret: 'wrong-secret' },
      { runId: '20261125t0000-abcd', transcript: new Transcript() },
    );
    await expect(bad.platformInfo()).rejects.toBeInstanceOf(AuthFailed);
    await bad.close();
  });

  test('a certificate that does not match the pin is refused', async () => {
    const bad = proxmoxDriver(
      { ...v8.config, tls: { fingerprint256: '00'.repeat(32) } },
      { runId: '20261125t0000-abcd', transcript: new Transcript() },
    );
    await expect(bad.platformInfo()).rejects.toBeInstanceOf(AuthFailed);
    await bad.close();
  });

  test('the simulator is labelled simulated even when a config claims a real cluster', async () => {
    const claimsReal = proxmoxDriver(
      { ...v8.config, simulator: false },
      { runId: '20261125t0000-abcd', transcript: new Transcript() },
    );
    expect((await claimsReal.capabilities()).evidence).toBe('simulated');
    expect((await claimsReal.platformInfo()).accel).toBe('simulated');
    await claimsReal.close();
  });

  test('an injected 500 on a read is retried; on a write it is not, and comes back typed', async () => {
    v8.sim.failNext('GET /version', 500, 'proxy loop detected');
    const fresh = proxmoxDriver(v8.config, { runId: '20261125t0000-abcd', transcript: new Transcript() });
    expect((await fresh.platformInfo()).version).toBe('8.4.1');
    await fresh.close();
    const vm = (await v8.driver.create(spec('vmc-500'))).result;
    v8.sim.failNext('POST /nodes/{node}/qemu/{vmid}/status/start', 500, 'internal error');
    const err = await v8.driver.start(vm).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlatformError);
    expect(String(err)).toMatch(/HTTP 500: internal error/);
    expect((await v8.driver.inspect(vm)).power).toBe('stopped');
    await v8.driver.delete(vm);
  });

  test('VM is locked, at once or as a task exit: the call waits for the lock, then goes through', async () => {
    const vm = (await v8.driver.create(spec('vmc-lock'))).result;
    const vmid = v8.sim.vmidOf('vmc-lock') ?? 0;
    const api = new ProxmoxClient({ ...v8.config, transcript: new Transcript() });
    // start checks the lock inside its task: the call is accepted, the task ends `VM is locked (backup)`.
    v8.sim.lock(vmid, 'backup');
    const upid = await api.call<string>('POST', `/nodes/pve1/qemu/${vmid}/status/start`);
    await expect(api.waitTask(upid, defaultWaitPolicies.device)).rejects.toThrow(/VM is locked \(backup\)/);
    setTimeout(() => v8.sim.lock(vmid, undefined), 300);
    await v8.driver.start(vm);
    expect((await v8.driver.inspect(vm)).power).toBe('running');
    // config refuses at once (HTTP 500): the adapter waits and sends it again.
    v8.sim.lock(vmid, 'backup');
    await expect(api.call('POST', `/nodes/pve1/qemu/${vmid}/config`, { cores: 2 })).rejects.toBeInstanceOf(Conflict);
    setTimeout(() => v8.sim.lock(vmid, undefined), 300);
    await v8.driver.reconfigure(vm, { vcpus: 2 });
    expect((await v8.driver.inspect(vm)).config.vcpus).toBe(2);
    await api.close();
    await v8.driver.delete(vm);
  });

  test('a failed task is typed and carries its log', async () => {
    const vm = (await v8.driver.create(spec('vmc-taskfail'))).result;
    v8.sim.failNextTask('qmstart', 'start failed: QEMU exited with code 1', ['kvm: cannot allocate memory']);
    const err = await v8.driver.start(vm).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskFailed);
    expect((err as TaskFailed).log).toContain('kvm: cannot allocate memory');
    expect((err as TaskFailed).platformCode).toBe('task:qmstart');
    await v8.driver.delete(vm);
  });

  test('a start that cannot plug its NIC fails naming the bridge and leaves the VM stopped', async () => {
    const vm = (await v8.driver.create(spec('vmc-badnet', { nics: [{ network: 'vmbr9' }] }))).result;
    await expect(v8.driver.start(vm)).rejects.toThrow(/bridge 'vmbr9' does not exist/);
    expect((await v8.driver.inspect(vm)).power).toBe('stopped');
    await v8.driver.delete(vm);
  });
});

describe('ownership', () => {
  test('owned objects can be removed through the driver, as the sweeper does; a VM without the tag is refused', async () => {
    const vm = (await v8.driver.create(spec('vmc-sweep'))).result;
    const b = (await v8.driver.backup(vm)).result;
    const mine = (await v8.driver.owned()).filter((o) => o.runId === '20261125t0000-abcd');
    expect(mine.map((o) => [o.kind, o.id])).toEqual(
      expect.arrayContaining([
        ['vm', vm.id],
        ['backup', b.id],
      ]),
    );
    const failed = await removeOwned(v8.driver, mine, () => undefined);
    expect(failed).toEqual([]);
    expect((await v8.driver.owned()).filter((o) => o.runId === '20261125t0000-abcd')).toEqual([]);
    // Strip the tag behind the driver's back: delete must refuse, typed.
    const other = (await v8.driver.create(spec('vmc-foreign'))).result;
    const api = new ProxmoxClient({ ...v8.config, transcript: new Transcript() });
    const vmid = v8.sim.vmidOf('vmc-foreign');
    const setTags = async (params: Record<string, string>) =>
      api.waitTask(
        await api.call<string>('POST', `/nodes/pve1/qemu/${vmid}/config`, params),
        defaultWaitPolicies.device,
      );
    await setTags({ delete: 'tags' });
    await expect(v8.driver.delete(other)).rejects.toBeInstanceOf(NotOwned);
    await setTags({ tags: 'vmconform;vmc-run.20261125t0000-abcd' });
    await v8.driver.delete(other);
    await api.close();
  });
});

describe('version differences', () => {
  test('resize: a task UPID on 8.x, null (no handle) on 7.4', async () => {
    for (const [l, kind] of [
      [v8, 'task'],
      [v7, 'none'],
    ] as const) {
      const vm = (await l.driver.create(spec(`vmc-resize-${kind}`, { disks: [{ name: 'd1', sizeBytes: 4 * MiB }] })))
        .result;
      const r = await l.driver.resizeDisk(vm, 'virtio1', 8 * MiB);
      expect(r.handle.kind).toBe(kind);
      if (kind === 'none') expect(r.handle.note).toMatch(/7\.4-17 resizes synchronously/);
      expect((await l.driver.inspect(vm)).config.disks.find((d) => d.id === 'virtio1')?.sizeBytes).toBe(8 * MiB);
      await l.driver.delete(vm);
    }
  });
});

describe('events', () => {
  test('lifecycle events come from polling the node task list', async () => {
    const ac = new AbortController();
    const seen: string[] = [];
    const it = v8.driver.events(ac.signal)[Symbol.asyncIterator]();
    const vm = (await v8.driver.create(spec('vmc-events'))).result;
    const pending = it.next();
    await v8.driver.start(vm);
    for (let r = await pending; !r.done; r = await it.next()) {
      seen.push(`${r.value.source} ${r.value.vm} ${r.value.detail}`);
      if (/qmstart stopped OK/.test(r.value.detail)) break;
    }
    ac.abort();
    expect(seen).toContain('poll vmc-events qmstart stopped OK');
    await v8.driver.delete(vm);
  });

  test('a VM that appears or goes is an event named for it (a clone task names its template)', async () => {
    const ac = new AbortController();
    const it = v8.driver.events(ac.signal)[Symbol.asyncIterator]();
    const first = it.next(); // the first poll only records what exists
    const vm = (await v8.driver.create(spec('vmc-appears'))).result;
    const seen: string[] = [];
    const want = (re: RegExp) => seen.some((x) => re.test(x));
    for (let r = await first; !r.done; r = await it.next()) {
      seen.push(`${r.value.kind} ${r.value.vm} ${r.value.detail}`);
      if (want(/^lifecycle vmc-appears defined$/)) break;
    }
    await v8.driver.delete(vm);
    for (let r = await it.next(); !r.done && !want(/^lifecycle vmc-appears deleted$/); r = await it.next())
      seen.push(`${r.value.kind} ${r.value.vm} ${r.value.detail}`);
    ac.abort();
    expect(seen).toContain('lifecycle vmc-appears defined');
    expect(seen).toContain('lifecycle vmc-appears deleted');
  });
});
