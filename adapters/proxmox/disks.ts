/**
 * Proxmox disks and volumes: a disk is a VM config slot (virtioN) over a volume of a storage; a detached
 * disk stays with its VM as unusedN, and a volume is owned through the VM that holds it.
 */
import {
  type AttachedDisk,
  Conflict,
  type DiskOps,
  type DiskSpec,
  NotFound,
  NotOwned,
  type Receipt,
  type StoragePool,
  Unsupported,
  type VmRef,
  type Volume,
  type VolumeFile,
} from '../contract/index.js';
import { type ProxmoxBase, tagOwner } from './core.js';
import { nextVirtioSlot, parseDisks, resizeReturnsUpid, smbiosUuid } from './mapping.js';

/** Perl booleans reach JSON as 0/1 (and `false` is not 0 in JavaScript): true only for 1 or true. */
const isSet = (v: number | boolean | undefined): boolean => v === true || v === 1;

interface PveStorage {
  storage: string;
  type: string;
  content: string;
  active?: number | boolean;
  enabled?: number | boolean;
  total?: number;
  used?: number;
  avail?: number;
}

export class ProxmoxDisks implements Omit<DiskOps, 'importVolume'> {
  constructor(private readonly b: ProxmoxBase) {}

  async attachDisk(vm: VmRef, disk: DiskSpec): Promise<Receipt<AttachedDisk>> {
    const b = this.b;
    const l = await b.mine(vm);
    const slot = nextVirtioSlot(l.config);
    const serial = disk.serial ?? disk.name;
    let r: Receipt<unknown>;
    if (disk.volumeId) {
      // An existing volume belongs to one VM (its unusedN); move_disk reassigns it to this VM.
      const from = await this.volumeOwner(disk.volumeId);
      const moved = await b.mutate(
        'POST',
        `${b.nodePath}/qemu/${from.vmid}/move_disk`,
        { disk: from.slot, 'target-vmid': l.vmid, 'target-disk': slot },
        'device',
      );
      const cfg = await b.config(l.vmid);
      const volid = (cfg[slot] ?? '').split(',')[0] ?? '';
      await b.mutate('POST', `${b.nodePath}/qemu/${l.vmid}/config`, { [slot]: `${volid},serial=${serial}` }, 'device');
      r = moved;
    } else {
      r = await b.mutate('POST', `${b.nodePath}/qemu/${l.vmid}/config`, { [slot]: b.diskValue(disk) }, 'device');
    }
    const attached = parseDisks(await b.config(l.vmid)).find((d) => d.id === slot);
    if (!attached) throw new NotFound(`proxmox: ${slot} is not in VM ${l.vmid}'s config after attaching it`);
    return b.receipt(r, attached);
  }

  /** Which VM holds a volume, and in which slot (a disk slot or unusedN); refuses one held by a VM not ours. */
  private async volumeOwner(volid: string): Promise<{ vmid: number; slot: string }> {
    for (const r of await this.b.vmList()) {
      const cfg = await this.b.config(r.vmid);
      for (const [k, v] of Object.entries(cfg))
        if (/^(virtio|scsi|sata|ide|unused)\d+$/.test(k) && String(v).split(',')[0] === volid) {
          this.b.ensureOwned(tagOwner(cfg.tags), `VM ${r.vmid} (holding volume ${volid})`);
          return { vmid: r.vmid, slot: k };
        }
    }
    throw new NotFound(`proxmox: volume ${volid} is not referenced by any VM on node ${this.b.c.node}`);
  }

  /** Detach: the disk becomes unusedN (its volume is kept, as on Proxmox); deleteVolume removes it. */
  async detachDisk(vm: VmRef, diskId: string): Promise<Receipt> {
    const l = await this.b.mine(vm);
    if (!l.config[diskId]) throw new NotFound(`proxmox: VM ${l.vmid} has no disk ${diskId}`);
    const r = await this.b.mutate('POST', `${this.b.nodePath}/qemu/${l.vmid}/config`, { delete: diskId }, 'device');
    return this.b.receipt(r, undefined);
  }

  async resizeDisk(vm: VmRef, diskId: string, sizeBytes: number): Promise<Receipt> {
    const l = await this.b.mine(vm);
    const v = await this.b.version();
    const r = await this.b.mutate(
      'PUT',
      `${this.b.nodePath}/qemu/${l.vmid}/resize`,
      // Whole KiB: resize_vm takes K exactly, so the disk is the size asked (M would round up to MiB).
      { disk: diskId, size: `${Math.ceil(sizeBytes / 1024)}K` },
      'device',
    );
    if (!resizeReturnsUpid(v) && r.handle.kind === 'none')
      r.handle.note = `PVE ${v.version} resizes synchronously and returns null (a task UPID from 8.0 on)`;
    return this.b.receipt(r, undefined);
  }

  private async storages(): Promise<PveStorage[]> {
    return this.b.api.get(`${this.b.nodePath}/storage`);
  }

  async volumes(): Promise<Volume[]> {
    const users = new Map<string, string[]>();
    for (const r of await this.b.vmList()) {
      const cfg = await this.b.config(r.vmid);
      const uuid = smbiosUuid(cfg.smbios1) ?? `${this.b.c.node}/${r.vmid}`;
      for (const d of parseDisks(cfg)) users.set(d.volumeId, [...(users.get(d.volumeId) ?? []), uuid]);
    }
    const out: Volume[] = [];
    for (const s of await this.storages()) {
      if (!s.content.split(',').includes('images') || !isSet(s.active)) continue;
      const items = await this.b.api.get<
        { volid: string; size: number; used?: number; format: string; parent?: string }[]
      >(`${this.b.nodePath}/storage/${encodeURIComponent(s.storage)}/content`, { content: 'images' });
      for (const v of items)
        out.push({
          // A Proxmox volume is named by its volid (storage:volname); there is no separate name.
          id: v.volid,
          name: v.volid,
          sizeBytes: v.size,
          ...(v.used !== undefined ? { allocatedBytes: v.used } : {}),
          format: v.format,
          ...(v.parent ? { backing: `${s.storage}:${v.parent}` } : {}),
          attachedTo: users.get(v.volid) ?? [],
        });
    }
    return out;
  }

  async deleteVolume(volumeId: string): Promise<Receipt> {
    const owner = await this.volumeOwner(volumeId).catch((e: unknown) =>
      e instanceof NotFound ? undefined : Promise.reject(e),
    );
    if (owner && !owner.slot.startsWith('unused'))
      throw new Conflict(
        `proxmox: volume ${volumeId} is attached as ${owner.slot} of VM ${owner.vmid}; detach it first`,
      );
    if (owner) {
      const r = await this.b.mutate(
        'POST',
        `${this.b.nodePath}/qemu/${owner.vmid}/config`,
        { delete: owner.slot },
        'device',
      );
      return this.b.receipt(r, undefined);
    }
    // Unreferenced: only an owned VM's disk naming scheme could be ours, and no VM claims it, so refuse.
    throw new NotOwned(`proxmox: volume ${volumeId} is not held by any VM carrying the ownership tag; not deleting it`);
  }

  async storagePools(): Promise<StoragePool[]> {
    return (await this.storages()).map((s) => ({
      name: s.storage,
      type: s.type,
      active: isSet(s.active) && s.enabled !== 0 && s.enabled !== false,
      capacityBytes: s.total ?? 0,
      allocationBytes: s.used ?? 0,
      availableBytes: s.avail ?? 0,
    }));
  }

  async exportVolume(
    _volumeId: string,
    _dest: { path: string; format: VolumeFile['format'] },
  ): Promise<Receipt<VolumeFile>> {
    throw new Unsupported(
      'the Proxmox VE API has no endpoint to download a VM disk volume (vzdump archives are the export path)',
      'platform',
    );
  }

  // importVolume is not implemented (composeDriver answers Unsupported by the adapter): it would upload
  // to an import storage, then attach with import-from.
}
