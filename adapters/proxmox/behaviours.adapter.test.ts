/**
 * The adapter against the behaviours of simulator/behaviours.ts, in each release mode: a lock reported as
 * a task's exit, clones losing the VMID race inside their task, lagging /cluster/resources, 0/1 booleans,
 * size rounding, a failed restore's leftover and a token without Sys.Audit. Modelled expectations only.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { Transcript } from '../../evidence/transcript.js';
import { Conflict } from '../contract/index.js';
import { proxmoxDriver } from './adapter.js';
import { type Release, releaseModes } from './simulator/behaviours.js';
import type { SimulatorOptions } from './simulator/simulator.js';
import { simulatorTestbed, testSpec as spec } from './simulator/testbed.js';

const bed = simulatorTestbed('pve-adapter-behaviour');
const runId = '20261207t0000-beef';
const MiB = 2 ** 20;
const drivers: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const d of drivers) await d.close();
  await bed.close();
});

/** A simulator (pvestatd refreshing only when asked, so /cluster/resources lags throughout) and a driver. */
async function lab(version: string, over: Partial<SimulatorOptions> = {}) {
  const { sim, config } = await bed.start(version, { statusIntervalMs: 3_600_000, ...over });
  const driver = proxmoxDriver(config, { runId, transcript: new Transcript() });
  drivers.push(driver);
  return { sim, driver };
}

describe.each(Object.entries(releaseModes) as [Release, string][])('adapter on PVE %s (reports %s)', (_r, version) => {
  test('B-LOCK-1/3: a lock reported as a task exit is waited for, then the call goes through', async () => {
    const { sim, driver } = await lab(version);
    const vm = (await driver.create(spec('lock'))).result;
    const vmid = sim.vmidOf('lock') ?? 0;
    const held = (lock: string) => {
      sim.lock(vmid, lock);
      setTimeout(() => sim.lock(vmid, undefined), 150);
    };
    held('backup');
    await driver.start(vm);
    held('snapshot');
    await driver.reboot(vm);
    held('backup');
    await driver.stop(vm, { force: true });
    expect((await driver.inspect(vm)).power).toBe('stopped');
    held('snapshot');
    await driver.backup(vm);
    held('backup');
    await driver.delete(vm);
    expect(sim.vmidOf('lock')).toBeUndefined();
  });

  test('B-CLONE-2: clones that lose the VMID race inside their task are retried with a fresh VMID', async () => {
    // The winner holds the new VMID's lock longer than the losers wait: their tasks end `got timeout`.
    const { driver } = await lab(version, { taskMs: 120, lockTimeoutMs: 30 });
    const made = await Promise.all(Array.from({ length: 4 }, (_, i) => driver.create(spec(`race-${i}`))));
    expect(new Set(made.map((r) => r.result.id)).size).toBe(4);
    for (const r of made) await driver.delete(r.result);
  });

  test('B-RES-1/2: names and states come from the node list: a fresh VM is found, named, counted on its host', async () => {
    const { driver } = await lab(version);
    const vm = (await driver.create(spec('fresh'))).result;
    await expect(driver.create(spec('fresh'))).rejects.toBeInstanceOf(Conflict);
    expect((await driver.list({ owner: runId })).map((v) => v.name)).toContain('fresh');
    expect((await driver.owned()).map((o) => o.name)).toContain('fresh');
    expect((await driver.inspect(vm)).ref.name).toBe('fresh');
    // A VM just started counts towards its host's allocation at once (INV-04).
    const allocated = async () => (await driver.hosts())[0]?.allocated?.cpus ?? 0;
    const before = await allocated();
    await driver.start(vm);
    expect(await allocated()).toBe(before + 1);
    await driver.delete(vm);
  });

  test('B-STOR-1: a disabled storage (active 0) is not counted as active', async () => {
    const { sim, driver } = await lab(version);
    const vm = (await driver.create(spec('stor', { disks: [{ name: 'd1', sizeBytes: 4 * MiB }] }))).result;
    sim.setStorageEnabled('local-lvm', false);
    expect((await driver.storagePools()).find((p) => p.name === 'local-lvm')?.active).toBe(false);
    expect((await driver.volumes()).filter((v) => v.id.startsWith('local-lvm:'))).toEqual([]);
    sim.setStorageEnabled('local-lvm', true);
    expect((await driver.storagePools()).find((p) => p.name === 'local-lvm')?.active).toBe(true);
    await driver.delete(vm);
  });

  test('B-SIZE-1/2: a disk is exactly the size asked, and resizing to that size is not refused as shrinking', async () => {
    const { driver } = await lab(version);
    const vm = (await driver.create(spec('size', { disks: [{ name: 'd1', sizeBytes: 8 * MiB }] }))).result;
    const disk = async () => (await driver.inspect(vm)).config.disks.find((d) => d.id === 'virtio1');
    expect((await disk())?.sizeBytes).toBe(8 * MiB);
    const volumeId = (await disk())?.volumeId;
    const vol = (await driver.volumes()).find((v) => v.id === volumeId);
    expect(vol?.sizeBytes).toBe(8 * MiB);
    await driver.resizeDisk(vm, 'virtio1', 8 * MiB);
    await driver.resizeDisk(vm, 'virtio1', 12 * MiB);
    expect((await disk())?.sizeBytes).toBe(12 * MiB);
    await driver.delete(vm);
  });

  test('B-RESTORE-1: a failed restore leaves no VM behind', async () => {
    const { sim, driver } = await lab(version);
    const vm = (await driver.create(spec('restore'))).result;
    const b = (await driver.backup(vm)).result;
    const before = (await driver.owned()).length;
    sim.failNextTask('qmrestore', 'command failed: vma extract error');
    await expect(driver.restore(b, { name: 'restore-copy' })).rejects.toThrow(/vma extract error/);
    // Nothing at any VMID but the original and the template: the leftover was removed.
    expect(sim.vmidOf('restore-copy')).toBeUndefined();
    const snapshot = JSON.parse(sim.snapshot()) as { vms: { vmid: number }[] };
    expect(snapshot.vms.map((v) => v.vmid).sort()).toEqual([sim.vmidOf('restore'), 9000].sort());
    expect((await driver.owned()).length).toBe(before);
    await driver.deleteBackup(b.id);
    await driver.delete(vm);
  });

  test('B-RESTORE-2: concurrent restores given one VMID proposal retry with a fresh one', async () => {
    const { driver } = await lab(version);
    const vm = (await driver.create(spec('restore-src'))).result;
    const b = (await driver.backup(vm)).result;
    const made = await Promise.all(['r1', 'r2', 'r3'].map((name) => driver.restore(b, { name })));
    expect(new Set(made.map((r) => r.result.id)).size).toBe(3);
    for (const r of made) await driver.delete(r.result);
    await driver.deleteBackup(b.id);
    await driver.delete(vm);
  });

  test('B-TASK-1/2: without Sys.Audit the event stream still sees the token its own tasks', async () => {
    const { driver } = await lab(version, {
      privileges: ['VM.Monitor', 'VM.GuestAgent.Audit', 'VM.GuestAgent.FileRead'],
    });
    const vm = (await driver.create(spec('events'))).result;
    const ac = new AbortController();
    const it = driver.events(ac.signal)[Symbol.asyncIterator]();
    const first = it.next();
    const started = await driver.start(vm);
    const seen: string[] = [];
    for (let r = await first; !r.done; r = await it.next()) {
      seen.push(`${r.value.vm} ${r.value.detail}`);
      if (/qmstart stopped OK/.test(r.value.detail)) break;
    }
    ac.abort();
    expect(seen).toContain('events qmstart stopped OK');
    expect((await driver.task(started.handle)).status).toBe('succeeded');
    await driver.delete(vm);
  });
});
