/** Incus disks: custom volumes attached as disk devices, grown through their size key, listed per pool. */
import {
  type AttachedDisk,
  Conflict,
  type DiskOps,
  type DiskSpec,
  NotFound,
  PrereqMissing,
  type Receipt,
  type StoragePool,
  Unsupported,
  type VmRef,
  type Volume,
  type VolumeFile,
} from '../contract/index.js';
import type { AsyncResult } from './client.js';
import { enc, handleOf, type IncusBase, receipt } from './core.js';
import { diskDevice, nextFreeTarget, ownerOf, parseSize, volumeId } from './mapping.js';

export class IncusDisks implements DiskOps {
  constructor(private readonly b: IncusBase) {}

  async attachDisk(vm: VmRef, disk: DiskSpec): Promise<Receipt<AttachedDisk>> {
    const { name, inst } = await this.b.ownedInstance(vm);
    const t0 = performance.now();
    const target = nextFreeTarget(Object.keys(inst.expanded_devices ?? inst.devices));
    const volume = disk.volumeId ? (disk.volumeId.split('/').pop() as string) : `${name}-${disk.name}`;
    // A volume made for this attach is removed again when the attach fails.
    const r: AsyncResult = await this.b.withRollback(async (rollback) => {
      if (!disk.volumeId) {
        await this.b.createVolume(volume, disk.sizeBytes, vm.id);
        rollback.add(`volume ${volume}`, () => this.b.deleteVolumeByName(volume));
      }
      return this.b.patchDevices(
        name,
        { ...inst.devices, [target]: diskDevice(inst.type, this.b.cfg.pool, volume, disk.serial ?? disk.name) },
        `attach disk ${volume} to ${name}`,
      );
    });
    const attached = (await this.b.inspect(vm)).config.disks.find((d) => d.target === target);
    if (!attached) throw new NotFound(`disk ${target} not present in ${name} after attach`);
    return { result: attached, handle: handleOf(r), acceptedMs: r.acceptedMs, doneMs: performance.now() - t0 };
  }

  async detachDisk(vm: VmRef, diskId: string): Promise<Receipt> {
    const { name, inst } = await this.b.ownedInstance(vm);
    if (inst.devices[diskId]?.type !== 'disk') throw new NotFound(`${name} has no disk ${diskId}`);
    const { [diskId]: _gone, ...rest } = inst.devices;
    const r = await this.b.patchDevices(name, rest, `detach disk ${diskId} from ${name}`);
    return receipt(r, undefined);
  }

  async resizeDisk(vm: VmRef, diskId: string, sizeBytes: number): Promise<Receipt> {
    const { name, inst } = await this.b.ownedInstance(vm);
    const dev = inst.devices[diskId];
    if (!dev?.source) throw new NotFound(`${name} has no data disk ${diskId}`);
    if (this.b.cfg.sizesNotEnforced) throw new PrereqMissing(`disk resize: ${this.b.cfg.sizesNotEnforced}`);
    const t0 = performance.now();
    const res = await this.b.client.raw('PATCH', this.b.volPath(dev.source), {
      json: { config: { size: `${sizeBytes}B` } },
    });
    const ms = performance.now() - t0;
    return {
      result: undefined,
      handle: { kind: 'none', id: null, note: 'Incus volume updates are synchronous' },
      acceptedMs: res.durationMs,
      doneMs: ms,
    };
  }

  async volumes(): Promise<Volume[]> {
    const { pool } = this.b.cfg;
    const insts = await this.b.instances();
    const uuidOf = new Map(insts.map((i) => [i.name, i.config['volatile.uuid'] as string]));
    const users = (used: string[] | undefined) =>
      (used ?? [])
        .map((u) => /^\/1\.0\/instances\/([^/?]+)/.exec(u)?.[1])
        .filter((n): n is string => !!n)
        .map((n) => uuidOf.get(decodeURIComponent(n)) ?? n);
    const out: Volume[] = [];
    const all = await this.b.client.sync<
      { name: string; type: string; config: Record<string, string>; used_by?: string[]; content_type?: string }[]
    >('GET', `/1.0/storage-pools/${enc(pool)}/volumes`, { query: { recursion: 1 } });
    for (const v of all) {
      if (v.type === 'custom') {
        const owner = ownerOf(v.config);
        out.push({
          id: volumeId(pool, v.name),
          name: v.name,
          sizeBytes: parseSize(v.config.size),
          format: v.content_type ?? 'filesystem',
          attachedTo: users(v.used_by),
          ...(owner ? { owner } : {}),
        });
      } else if (v.type === 'container' || v.type === 'virtual-machine') {
        // Instance root volumes: a copy of the image they were created from (volatile.base_image).
        const inst = insts.find((i) => i.name === v.name);
        const root = Object.values(inst?.expanded_devices ?? {}).find((d) => d.type === 'disk' && d.path === '/');
        const base = inst?.config['volatile.base_image'];
        out.push({
          id: volumeId(pool, `${v.type}/${v.name}`),
          name: `${v.type}/${v.name}`,
          sizeBytes: parseSize(v.config.size ?? root?.size),
          format: v.content_type === 'block' ? 'raw' : 'dir',
          ...(base ? { backing: `image ${base}` } : {}),
          attachedTo: users(v.used_by),
        });
      }
    }
    return out;
  }

  async deleteVolume(id: string): Promise<Receipt> {
    const name = id.split('/').pop() as string;
    const v = await this.b.volumeInfo(name);
    this.b.ensureOwned(ownerOf(v.config), `volume '${id}'`);
    if ((v.used_by ?? []).length > 0) throw new Conflict(`volume '${id}' is in use by ${(v.used_by ?? []).join(', ')}`);
    const t0 = performance.now();
    const res = await this.b.client.raw('DELETE', this.b.volPath(name));
    return {
      result: undefined,
      handle: { kind: 'none', id: null, note: 'Incus deletes a custom volume synchronously' },
      acceptedMs: res.durationMs,
      doneMs: performance.now() - t0,
    };
  }

  async storagePools(): Promise<StoragePool[]> {
    const pools = await this.b.client.sync<{ name: string; driver: string; status: string }[]>(
      'GET',
      '/1.0/storage-pools',
      { query: { recursion: 1 } },
      false,
    );
    const out: StoragePool[] = [];
    for (const p of pools) {
      const r = await this.b.client.sync<{ space?: { total?: number; used?: number } }>(
        'GET',
        `/1.0/storage-pools/${enc(p.name)}/resources`,
        {},
        false,
      );
      const total = r.space?.total ?? 0;
      const used = r.space?.used ?? 0;
      out.push({
        name: p.name,
        type: p.driver,
        active: p.status === 'Created',
        capacityBytes: total,
        allocationBytes: used,
        availableBytes: total - used,
      });
    }
    return out;
  }

  async exportVolume(_id: string, dest: { path: string; format: VolumeFile['format'] }): Promise<Receipt<VolumeFile>> {
    if (this.b.isContainer)
      throw new Unsupported(
        `a container's custom volume is a filesystem, not a disk: Incus exports it only as its own backup tarball, never as ${dest.format}`,
        'platform',
      );
    return this.b.unsupported(
      'exportVolume',
      'block volume export (volume backup to raw/qcow2) is not implemented yet',
    );
  }

  async importVolume(_name: string, src: VolumeFile): Promise<Receipt<Volume>> {
    if (this.b.isContainer)
      throw new Unsupported(
        `a container's custom volume is a filesystem: Incus cannot import a ${src.format} disk file into one`,
        'platform',
      );
    return this.b.unsupported(
      'importVolume',
      'block volume import (POST volumes with a raw/qcow2 body) is not implemented yet',
    );
  }
}
