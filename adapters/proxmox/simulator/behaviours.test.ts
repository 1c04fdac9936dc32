/**
 * One test per row of behaviours.ts, in each release mode: the simulator does what the row says real
 * Proxmox does (a modelled expectation from upstream source). Raw API calls, no adapter: the adapter's
 * handling of each is in adapter.test.ts.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, test } from 'vitest';
import { AuthFailed } from '../../../evidence/errors.js';
import { Transcript } from '../../../evidence/transcript.js';
import { ProxmoxClient } from '../client.js';
import { behaviours, type Release, releaseModes, renderBehaviours } from './behaviours.js';
import type { SimulatorOptions } from './simulator.js';
import { simulatorTestbed, testToken } from './testbed.js';

const bed = simulatorTestbed('pve-behaviour');
const MiB = 2 ** 20;
const clients: ProxmoxClient[] = [];
afterAll(async () => {
  for (const c of clients) await c.close();
  await bed.close();
});

type Lab = Awaited<ReturnType<typeof lab>>;

/** A simulator in one release mode with a template (9000) and a raw client; pvestatd refreshes only when asked. */
async function lab(version: string, over: Partial<SimulatorOptions> = {}) {
  const { sim, config } = await bed.start(version, { statusIntervalMs: 3_600_000, ...over });
  const fingerprint256 = config.tls.fingerprint256;
  const port = Number(new URL(config.baseUrl).port);
  const api = new ProxmoxClient({
    baseUrl: `https://127.0.0.1:${port}/api2/json`,
    ...testToken,
    tls: { fingerprint256 },
    transcript: new Transcript(),
  });
  clients.push(api);
  const n = '/nodes/pve1';
  /** Waits for a task to stop: its exit status and log. */
  const task = async (upid: string) => {
    for (;;) {
      const s = await api.get<{ status: string; exitstatus?: string }>(`${n}/tasks/${encodeURIComponent(upid)}/status`);
      if (s.status === 'stopped') return { exit: s.exitstatus ?? '', log: await api.taskLog(upid) };
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const call = (m: 'POST' | 'PUT' | 'DELETE', path: string, params = {}) => api.call<string>(m, `${n}${path}`, params);
  /** A linked clone of the template, done; its VMID. */
  const vm = async (name: string) => {
    const vmid = Number(await api.get('/cluster/nextid'));
    expect((await task(await call('POST', '/qemu/9000/clone', { newid: vmid, name, full: 0 }))).exit).toBe('OK');
    return vmid;
  };
  const ok = async (m: 'POST' | 'PUT' | 'DELETE', path: string, params = {}) =>
    expect((await task(await call(m, path, params))).exit).toBe('OK');
  return { sim, api, n, task, call, vm, ok };
}

const cases: Record<string, (version: string, release: Release) => Promise<void>> = {
  'B-LOCK-1': async (version) => {
    const l = await lab(version);
    const id = await l.vm('lock1');
    const locked = async (m: 'POST' | 'PUT' | 'DELETE', path: string, params = {}) =>
      expect((await l.task(await l.call(m, path, params))).exit).toBe('VM is locked (backup)');
    l.sim.lock(id, 'backup');
    await locked('POST', `/qemu/${id}/status/start`);
    l.sim.lock(id, undefined);
    await l.ok('POST', `/qemu/${id}/status/start`);
    l.sim.lock(id, 'backup');
    for (const op of ['stop', 'shutdown', 'reboot']) await locked('POST', `/qemu/${id}/status/${op}`);
    await locked('PUT', `/qemu/${id}/resize`, { disk: 'virtio0', size: '+1M' });
    l.sim.lock(id, undefined);
    await l.ok('POST', `/qemu/${id}/status/stop`);
    l.sim.lock(id, 'backup');
    await locked('DELETE', `/qemu/${id}`);
  },
  'B-LOCK-2': async (version) => {
    const l = await lab(version);
    const id = await l.vm('lock2');
    l.sim.lock(id, 'backup');
    await expect(l.call('POST', `/qemu/${id}/config`, { cores: 2 })).rejects.toThrow(
      /HTTP 500: VM is locked \(backup\)/,
    );
    await expect(l.call('POST', `/qemu/${id}/clone`, { newid: 150, full: 1 })).rejects.toThrow(
      /HTTP 500: VM is locked \(backup\)/,
    );
  },
  'B-LOCK-3': async (version) => {
    const l = await lab(version);
    const id = await l.vm('lock3');
    l.sim.lock(id, 'snapshot');
    const t = await l.task(await l.call('POST', '/vzdump', { vmid: id, storage: 'local' }));
    expect(t.exit).toBe('job errors');
    expect(t.log).toContain(`ERROR: Backup of VM ${id} failed - VM is locked (snapshot)`);
  },
  'B-STATE-1': async (version) => {
    const l = await lab(version);
    const id = await l.vm('state1');
    await l.ok('POST', `/qemu/${id}/status/start`);
    expect((await l.task(await l.call('POST', `/qemu/${id}/status/start`))).exit).toBe(`VM ${id} already running`);
    expect((await l.task(await l.call('POST', '/qemu/9000/status/start'))).exit).toBe(
      "you can't start a vm if it's a template",
    );
  },
  'B-STATE-2': async (version) => {
    const l = await lab(version);
    const id = await l.vm('state2');
    await l.ok('POST', `/qemu/${id}/status/stop`);
    await l.ok('POST', `/qemu/${id}/status/shutdown`);
  },
  'B-STATE-3': async (version) => {
    const l = await lab(version);
    const id = await l.vm('state3');
    await expect(l.call('POST', `/qemu/${id}/status/reboot`)).rejects.toThrow(`HTTP 500: VM ${id} not running`);
  },
  'B-STATE-4': async (version) => {
    const l = await lab(version);
    const id = await l.vm('state4');
    await l.ok('POST', `/qemu/${id}/status/start`);
    await expect(l.call('DELETE', `/qemu/${id}`)).rejects.toThrow(`HTTP 500: VM ${id} is running - destroy failed`);
  },
  'B-REBOOT-1': async (version) => {
    const l = await lab(version, { privileges: [] });
    const id = await l.vm('reboot1');
    await l.ok('POST', `/qemu/${id}/status/start`);
    await l.ok('POST', `/qemu/${id}/status/reboot`);
    const status = async () => (await l.api.get<{ status: string }>(`${l.n}/qemu/${id}/status/current`)).status;
    expect(await status()).toBe('stopped');
    for (let i = 0; i < 100 && (await status()) !== 'running'; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await status()).toBe('running');
    // The restart's task is root@pam's: the token sees only its own qmreboot.
    const types = (await l.api.get<{ type: string }[]>(`${l.n}/tasks`, { vmid: id, source: 'all' })).map((t) => t.type);
    expect(types).toContain('qmreboot');
    expect(types.filter((t) => t === 'qmstart')).toHaveLength(1);
  },
  'B-CLONE-1': async (version) => {
    const l = await lab(version);
    const id = await l.vm('clone1');
    await expect(l.call('POST', '/qemu/9000/clone', { newid: id, full: 0 })).rejects.toThrow(
      `HTTP 500: unable to create VM ${id}: config file already exists`,
    );
  },
  'B-CLONE-2': async (version) => {
    // The winner holds the new VMID's lock longer than the loser waits: got timeout.
    const slow = await lab(version, { taskMs: 200, lockTimeoutMs: 50 });
    const race = async (l: Lab) => {
      const upids = await Promise.all(
        ['a', 'b'].map((x) => l.call('POST', '/qemu/9000/clone', { newid: 170, name: x, full: 0 })),
      );
      return (await Promise.all(upids.map((u) => l.task(u)))).map((t) => t.exit).sort();
    };
    expect(await race(slow)).toEqual(['OK', "can't lock file '/var/lock/qemu-server/lock-170.conf' - got timeout"]);
    // The winner is done before the loser's wait ends: the loser finds its config. The winner's task is
    // long enough that the loser's POST arrives while it runs, even on a loaded machine.
    const fast = await lab(version, { taskMs: 300, lockTimeoutMs: 1_000 });
    expect(await race(fast)).toEqual(['OK', 'unable to create VM 170: config file already exists']);
  },
  'B-RES-1': async (version) => {
    const l = await lab(version);
    const row = async (id: number) =>
      (await l.api.get<{ vmid: number; name?: string; status: string }[]>('/cluster/resources', { type: 'vm' })).find(
        (r) => r.vmid === id,
      );
    const id = await l.vm('res1');
    expect(await row(id)).toMatchObject({ status: 'unknown' });
    expect((await row(id))?.name).toBeUndefined();
    l.sim.refreshStats();
    expect(await row(id)).toMatchObject({ name: 'res1', status: 'stopped' });
    // A reused VMID shows the previous VM's name until pvestatd's next round.
    await l.ok('DELETE', `/qemu/${id}`);
    await l.ok('POST', '/qemu/9000/clone', { newid: id, name: 'res1-new', full: 0 });
    expect((await row(id))?.name).toBe('res1');
    l.sim.refreshStats();
    expect((await row(id))?.name).toBe('res1-new');
  },
  'B-RES-2': async (version) => {
    const l = await lab(version, { taskMs: 300 });
    const list = () => l.api.get<{ vmid: number; name?: string; template?: number; lock?: string }[]>(`${l.n}/qemu`);
    const id = await l.vm('res2');
    expect((await list()).find((r) => r.vmid === id)).toMatchObject({ name: 'res2', status: 'stopped' });
    expect((await list()).find((r) => r.vmid === 9000)).toMatchObject({ name: 'base', template: 1 });
    // While a clone runs its VMID holds a nameless config locked `clone`.
    const upid = await l.call('POST', '/qemu/9000/clone', { newid: 180, name: 'res2b', full: 0 });
    await new Promise((r) => setTimeout(r, 120));
    expect((await list()).find((r) => r.vmid === 180)).toMatchObject({ name: 'VM 180', lock: 'clone' });
    expect((await l.task(upid)).exit).toBe('OK');
  },
  'B-RESTORE-2': async (version) => {
    const l = await lab(version);
    const id = await l.vm('restore2');
    await l.ok('POST', '/vzdump', { vmid: id, storage: 'local' });
    const archive = (await l.api.get<{ volid: string }[]>(`${l.n}/storage/local/content`, { content: 'backup' }))[0]
      ?.volid;
    await expect(l.call('POST', '/qemu', { vmid: id, archive })).rejects.toThrow(
      `HTTP 500: unable to restore VM ${id} - VM ${id} already exists on node 'pve1'`,
    );
  },
  'B-CLONE-3': async (version) => {
    const l = await lab(version);
    l.sim.failNextTask('qmclone', "clone failed: lvcreate 'pve/vm-171-disk-0' error");
    const t = await l.task(await l.call('POST', '/qemu/9000/clone', { newid: 171, name: 'clone3', full: 0 }));
    expect(t.exit).toMatch(/^clone failed: /);
    expect((await l.api.get<{ vmid: number }[]>(`${l.n}/qemu`)).map((r) => r.vmid)).not.toContain(171);
    expect(await l.api.get(`${l.n}/storage/local-lvm/content`, { vmid: 171 })).toEqual([]);
  },
  'B-STOR-1': async (version) => {
    const l = await lab(version);
    type Row = { storage: string; active?: unknown; enabled?: unknown; shared?: unknown; total?: number };
    const rows = (content?: string) => l.api.get<Row[]>(`${l.n}/storage`, content ? { content } : {});
    expect((await rows()).find((s) => s.storage === 'local-lvm')).toMatchObject({ active: 1, enabled: 1, shared: 0 });
    l.sim.setStorageEnabled('local-lvm', false);
    const off = (await rows()).find((s) => s.storage === 'local-lvm');
    expect(off).toMatchObject({ active: 0, enabled: 0 });
    expect(off?.total).toBeUndefined();
    expect((await rows('images')).map((s) => s.storage)).not.toContain('local-lvm');
  },
  'B-SIZE-1': async (version) => {
    const l = await lab(version);
    const id = await l.vm('size1');
    await l.ok('POST', `/qemu/${id}/config`, { virtio1: 'local-lvm:0.007813', virtio2: 'local-lvm:0.0078125' });
    const cfg = await l.api.get<Record<string, string>>(`${l.n}/qemu/${id}/config`);
    expect(cfg.virtio1).toMatch(/size=8193K$/);
    expect(cfg.virtio2).toMatch(/size=8M$/);
    const vols = await l.api.get<{ volid: string; size: number }[]>(`${l.n}/storage/local-lvm/content`, { vmid: id });
    const size = (slot: string) => vols.find((v) => v.volid === cfg[slot]?.split(',')[0])?.size;
    expect(size('virtio1')).toBe(12 * MiB);
    expect(size('virtio2')).toBe(8 * MiB);
  },
  'B-SIZE-2': async (version) => {
    const l = await lab(version);
    const id = await l.vm('size2');
    await l.ok('POST', `/qemu/${id}/config`, { virtio1: 'local-lvm:0.007813' }); // a 12 MiB volume
    const resize = async (size: string) =>
      (await l.task(await l.call('PUT', `/qemu/${id}/resize`, { disk: 'virtio1', size }))).exit;
    expect(await resize('8M')).toBe('shrinking disks is not supported');
    expect(await resize('12M')).toBe('OK');
    expect((await l.api.get<Record<string, string>>(`${l.n}/qemu/${id}/config`)).virtio1).toMatch(/size=8193K$/);
    expect(await resize('16M')).toBe('OK');
    expect((await l.api.get<Record<string, string>>(`${l.n}/qemu/${id}/config`)).virtio1).toMatch(/size=16M$/);
  },
  'B-RESTORE-1': async (version) => {
    // Tasks long enough to see the reservation while the restore runs.
    const l = await lab(version, { taskMs: 300 });
    const id = await l.vm('restore1');
    await l.ok('POST', '/vzdump', { vmid: id, storage: 'local' });
    const archive = (await l.api.get<{ volid: string }[]>(`${l.n}/storage/local/content`, { content: 'backup' }))[0]
      ?.volid;
    l.sim.failNextTask('qmrestore', 'command failed: vma extract error');
    const upid = await l.call('POST', '/qemu', { vmid: 190, archive, storage: 'local-lvm' });
    // Reserved before the task: listed with its `create` lock, and /cluster/nextid passes it over.
    expect((await l.api.get<{ vmid: number; lock?: string }[]>(`${l.n}/qemu`)).find((r) => r.vmid === 190)?.lock).toBe(
      'create',
    );
    const t = await l.task(upid);
    expect(t.exit).toBe('command failed: vma extract error');
    expect(t.log.join('\n')).toMatch(/VM 190 state is NOT cleaned up/);
    const left = (await l.api.get<{ vmid: number; lock?: string }[]>(`${l.n}/qemu`)).find((r) => r.vmid === 190);
    expect(left).toBeDefined();
    expect(left?.lock).toBeUndefined();
    expect(await l.api.get(`${l.n}/storage/local-lvm/content`, { vmid: 190 })).toEqual([]);
  },
  'B-STOR-2': async (version) => {
    const l = await lab(version);
    const id = await l.vm('stor2');
    await l.ok('POST', `/qemu/${id}/config`, { virtio1: 'local-lvm:0.00390625' });
    const cfg = await l.api.get<Record<string, string>>(`${l.n}/qemu/${id}/config`);
    const volid = cfg.virtio1?.split(',')[0] as string;
    const upid = await l.call('DELETE', `/storage/local-lvm/content/${encodeURIComponent(volid)}`);
    expect(upid).toContain(`:imgdel:${id}@local-lvm:`);
    expect((await l.task(upid)).exit).toBe('OK');
    // The config still names the freed volume.
    expect((await l.api.get<Record<string, string>>(`${l.n}/qemu/${id}/config`)).virtio1).toContain(volid);
    const vols = await l.api.get<{ volid: string }[]>(`${l.n}/storage/local-lvm/content`, { vmid: id });
    expect(vols.map((v) => v.volid)).not.toContain(volid);
  },
  'B-MOVE-1': async (version) => {
    const l = await lab(version);
    const a = await l.vm('move1a');
    const b = await l.vm('move1b');
    await l.ok('POST', `/qemu/${a}/config`, { virtio1: 'local-lvm:0.00390625' });
    await expect(
      l.call('POST', `/qemu/${a}/move_disk`, { disk: 'virtio1', 'target-vmid': b, 'target-disk': 'virtio0' }),
    ).rejects.toThrow(`HTTP 500: Target disk key 'virtio0' is already in use for VM '${b}'`);
    await expect(
      l.call('POST', `/qemu/${a}/move_disk`, { disk: 'virtio7', 'target-vmid': b, 'target-disk': 'virtio1' }),
    ).rejects.toThrow(`HTTP 500: Disk 'virtio7' for VM '${a}' does not exist`);
    l.sim.lock(b, 'backup');
    await expect(
      l.call('POST', `/qemu/${a}/move_disk`, { disk: 'virtio1', 'target-vmid': b, 'target-disk': 'virtio1' }),
    ).rejects.toThrow('HTTP 500: VM is locked (backup)');
  },
  'B-NEXTID-1': async (version) => {
    const l = await lab(version);
    const err = await l.api.get('/cluster/nextid', { vmid: 9000 }).catch((e: unknown) => e);
    expect(String(err)).toMatch(/HTTP 400: .*vmid: VM 9000 already exists/);
    const [x, y] = await Promise.all([l.api.get('/cluster/nextid'), l.api.get('/cluster/nextid')]);
    expect(x).toBe(y);
  },
  'B-CONF-1': async (version) => {
    const l = await lab(version);
    await expect(l.api.get(`${l.n}/qemu/4242/config`)).rejects.toThrow(
      "HTTP 500: Configuration file 'nodes/pve1/qemu-server/4242.conf' does not exist",
    );
  },
  'B-STATUS-1': async (version) => {
    const l = await lab(version);
    const id = await l.vm('status1');
    const cur = () => l.api.get<Record<string, unknown>>(`${l.n}/qemu/${id}/status/current`);
    expect(await cur()).toMatchObject({ status: 'stopped', agent: 1, ha: { managed: 0 } });
    await l.ok('POST', `/qemu/${id}/config`, { agent: 0 });
    expect((await cur()).agent).toBeUndefined();
  },
  'B-AGENT-1': async (version) => {
    const l = await lab(version);
    const id = await l.vm('agent1');
    const ifs = () => l.api.get(`${l.n}/qemu/${id}/agent/network-get-interfaces`);
    await expect(ifs()).rejects.toThrow(`HTTP 500: VM ${id} is not running`);
    await l.ok('POST', `/qemu/${id}/config`, { delete: 'agent' });
    await expect(ifs()).rejects.toThrow('HTTP 500: No QEMU guest agent configured');
  },
  'B-TASK-1': async (version) => {
    const none = await lab(version, { privileges: ['VM.Monitor', 'VM.GuestAgent.Audit', 'VM.GuestAgent.FileRead'] });
    await none.vm('task1');
    expect(await none.api.get('/cluster/tasks')).toEqual([]);
    const audit = await lab(version);
    await audit.vm('task1');
    expect((await audit.api.get<{ user: string; tokenid?: string }[]>('/cluster/tasks'))[0]).toMatchObject({
      user: 'root@pam',
      tokenid: 'test',
    });
  },
  'B-TASK-2': async (version) => {
    const l = await lab(version, { privileges: [] });
    await l.vm('task2');
    const tasks = (params = {}) => l.api.get<{ type: string; status?: string }[]>(`${l.n}/tasks`, params);
    expect((await tasks()).map((t) => t.type)).toContain('qmclone');
    const upid = await l.call('POST', '/qemu/9000/clone', { newid: 195, name: 'task2b', full: 0 });
    expect((await tasks()).some((t) => t.status === 'running')).toBe(false);
    expect((await tasks({ source: 'all' })).some((t) => t.status === 'running')).toBe(true);
    await l.task(upid);
  },
  'B-PERM-1': async (version, release) => {
    const v8Privs = await lab(version, { privileges: ['VM.Monitor'] });
    const v9Privs = await lab(version, { privileges: ['VM.GuestAgent.Audit', 'VM.GuestAgent.FileRead'] });
    const agent = async (l: Lab) => {
      const id = await l.vm('perm1');
      return Promise.all([
        l.api.get(`${l.n}/qemu/${id}/agent/network-get-interfaces`).catch((e: unknown) => e),
        l.api.get(`${l.n}/qemu/${id}/agent/file-read`, { file: '/var/log/vmc/guest.log' }).catch((e: unknown) => e),
      ]);
    };
    const [refused, allowed] = release === '9.x' ? [v8Privs, v9Privs] : [v9Privs, v8Privs];
    const [ifs, file] = await agent(refused);
    expect(ifs).toBeInstanceOf(AuthFailed);
    expect(file).toBeInstanceOf(AuthFailed);
    if (release === '9.x') {
      expect(String(ifs)).toMatch(
        /HTTP 403: Permission check failed \(\/vms\/\d+, VM.GuestAgent.Audit\|VM.GuestAgent.Unrestricted\)/,
      );
      expect(String(file)).toMatch(
        /Permission check failed \(\/vms\/\d+, VM.GuestAgent.FileRead\|VM.GuestAgent.Unrestricted\)/,
      );
    } else expect(String(ifs)).toMatch(/HTTP 403: Permission check failed \(\/vms\/\d+, VM.Monitor\)/);
    // Allowed: past the permission check, refused only because the VM is not running.
    for (const e of await agent(allowed)) expect(String(e)).toMatch(/not running/);
  },
  'B-TASK-3': async (version) => {
    const l = await lab(version, { taskMs: 200 });
    const id = await l.vm('task3');
    const status = (upid: string) =>
      l.api.get<{ status: string; exitstatus?: string }>(`${l.n}/tasks/${encodeURIComponent(upid)}/status`);
    const upid = await l.call('POST', `/qemu/${id}/status/start`);
    expect(await status(upid)).not.toHaveProperty('exitstatus');
    expect((await status(upid)).status).toBe('running');
    expect(await l.task(upid)).toMatchObject({ exit: 'OK' });
    l.sim.warnNextTask('qmstop', 2);
    const warned = await l.task(await l.call('POST', `/qemu/${id}/status/stop`));
    expect(warned.exit).toBe('WARNINGS: 2');
    expect(warned.log.at(-1)).toBe('TASK WARNINGS: 2');
    l.sim.failNextTask('qmstart', 'start failed: boom');
    const failed = await l.task(await l.call('POST', `/qemu/${id}/status/start`));
    expect(failed.exit).toBe('start failed: boom');
    expect(failed.log.at(-1)).toBe('TASK ERROR: start failed: boom');
  },
  'B-TASK-4': async (version) => {
    const l = await lab(version);
    const id = await l.vm('task4');
    l.sim.failNextTask(
      'qmstart',
      'boom',
      Array.from({ length: 60 }, (_, i) => `line ${i + 1}`),
    );
    const upid = await l.call('POST', `/qemu/${id}/status/start`);
    await l.task(upid);
    const log = (params = {}) =>
      l.api.get<{ n: number; t: string }[]>(`${l.n}/tasks/${encodeURIComponent(upid)}/log`, params);
    const first = await log();
    expect(first).toHaveLength(50);
    expect(first[0]).toEqual({ n: 1, t: 'line 1' });
    const rest = await log({ start: 55, limit: 500 });
    expect(rest[0]).toEqual({ n: 56, t: 'line 56' });
    expect(rest.at(-1)?.t).toBe('TASK ERROR: boom');
  },
  'B-VER-1': async (version) => {
    const l = await lab(version);
    expect(await l.api.get('/version')).toEqual({
      version,
      release: version.split('.').slice(0, 2).join('.'),
      repoid: expect.any(String),
    });
  },
  'B-NET-1': async (version) => {
    const l = await lab(version);
    const ifaces = await l.api.get<{ iface: string; active?: unknown }[]>(`${l.n}/network`, { type: 'any_bridge' });
    expect(ifaces.map((i) => [i.iface, i.active])).toEqual([
      ['vmbr0', 1],
      ['vmbr1', 1],
    ]);
  },
  'B-STOR-3': async (version) => {
    const l = await lab(version);
    const id = await l.vm('stor3');
    await l.ok('POST', '/vzdump', {
      vmid: id,
      storage: 'local',
      'notes-template': 'vmconform run=r1 vm={{guestname}}\nmore',
    });
    const [b] = await l.api.get<{ notes?: string }[]>(`${l.n}/storage/local/content`, { content: 'backup', vmid: id });
    expect(b?.notes).toBe('vmconform run=r1 vm=stor3');
  },
  'B-PERM-2': async (version, release) => {
    const root = await lab(version);
    const all = await root.api.get<Record<string, Record<string, number>>>('/access/permissions', { path: '/vms/100' });
    expect(all['/vms/100']).toMatchObject({ 'VM.Allocate': 1, 'Sys.Audit': 1 });
    // Each release lists only the privileges it has.
    expect(Object.keys(all['/vms/100'] ?? {})).toContain(release === '9.x' ? 'VM.GuestAgent.Audit' : 'VM.Monitor');
    expect(Object.keys(all['/vms/100'] ?? {})).not.toContain(release === '9.x' ? 'VM.Monitor' : 'VM.GuestAgent.Audit');
    const l = await lab(version, { acl: { '/vms': ['VM.Audit', 'VM.PowerMgmt'], '/nodes/pve1': ['Sys.Audit'] } });
    expect(await l.api.get('/access/permissions', { path: '/vms/123' })).toEqual({
      '/vms/123': { 'VM.Audit': 1, 'VM.PowerMgmt': 1 },
    });
    expect(await l.api.get('/access/permissions', { path: '/storage/local' })).toEqual({});
    // The whole tree: top-level and ACL paths holding something, nothing else.
    expect(await l.api.get('/access/permissions')).toEqual({
      '/vms': { 'VM.Audit': 1, 'VM.PowerMgmt': 1 },
      '/nodes/pve1': { 'Sys.Audit': 1 },
    });
  },
  'B-PERM-3': async (version) => {
    const l = await lab(version, { acl: { '/vms': ['VM.Audit'] } });
    await expect(l.api.get(`${l.n}/status`)).rejects.toThrow(
      /HTTP 403: Permission check failed \(\/nodes\/pve1, Sys.Audit\)/,
    );
    expect(await l.api.get('/cluster/resources', { type: 'node' })).toEqual([
      { id: 'node/pve1', type: 'node', node: 'pve1', status: 'online' },
    ]);
    const audit = await lab(version, { acl: { '/nodes/pve1': ['Sys.Audit'] } });
    expect(await audit.api.get<{ cpuinfo: unknown }>(`${audit.n}/status`)).toHaveProperty('cpuinfo');
    expect(
      (await audit.api.get<{ maxmem?: number }[]>('/cluster/resources', { type: 'node' }))[0]?.maxmem,
    ).toBeGreaterThan(0);
  },
  'B-OPTS-1': async (version) => {
    const datacenter = {
      console: 'html5',
      'user-tag-access': { 'user-allow': 'list', 'user-allow-list': ['vmconform'] },
      'registered-tags': ['prod'],
    };
    const l = await lab(version, { acl: { '/': ['VM.Audit'] }, datacenter });
    expect(await l.api.get('/cluster/options')).toEqual({ console: 'html5', 'allowed-tags': ['vmconform'] });
    const id = await l.vm('opts1');
    // The clone keeps the template's tags: removing one is a change too, so they stay.
    const kept = (await l.api.get<{ tags?: string }>(`${l.n}/qemu/${id}/config`)).tags ?? '';
    await expect(l.call('POST', `/qemu/${id}/config`, { tags: 'vmconform' })).rejects.toThrow(/modifying tag/);
    await l.ok('POST', `/qemu/${id}/config`, { tags: `${kept};vmconform` });
    await expect(l.call('POST', `/qemu/${id}/config`, { tags: `${kept};vmconform;vmc-run.x` })).rejects.toThrow(
      /HTTP 403: Permission check failed \(\/, Sys.Modify for modifying tag 'vmc-run.x'\)/,
    );
    const audit = await lab(version, { acl: { '/': ['Sys.Audit'] }, datacenter });
    expect(await audit.api.get('/cluster/options')).toMatchObject({
      'user-tag-access': { 'user-allow': 'list' },
      'registered-tags': ['prod'],
    });
    // Sys.Modify on / sets any tag, registered ones too.
    const modify = await lab(version, { acl: { '/': ['Sys.Modify'] }, datacenter });
    const id2 = await modify.vm('opts1b');
    await modify.ok('POST', `/qemu/${id2}/config`, { tags: 'prod;vmc-run.x' });
  },
};

describe('the behaviour table', () => {
  test('every row has a test here and BEHAVIOUR.md is its rendering', () => {
    expect(Object.keys(cases).sort()).toEqual(behaviours.map((b) => b.id).sort());
    // Compared as biome formats markdown: table cells padded, separator dashes widened.
    const norm = (md: string) => md.replace(/ *\| */g, '|').replace(/-{3,}/g, '---');
    expect(norm(readFileSync(new URL('./BEHAVIOUR.md', import.meta.url), 'utf8'))).toBe(norm(renderBehaviours()));
  });
});

describe.each(Object.entries(releaseModes) as [Release, string][])('PVE %s (reports %s)', (release, version) => {
  for (const b of behaviours)
    if (b.releases.includes(release))
      test(`${b.id}: ${b.endpoint}`, () => (cases[b.id] as (v: string, r: Release) => Promise<void>)(version, release));
});
