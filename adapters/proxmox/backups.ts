/**
 * Proxmox backups: vzdump archives in the backup storage, owned through the note vzdump writes from the
 * run's notes template; a restore is a new VM (fresh VMID and SMBIOS UUID) carrying the archived metadata.
 */
import { randomUUID } from 'node:crypto';
import {
  type Backup,
  type BackupOps,
  NotFound,
  type Receipt,
  type RestoreOptions,
  type VmRef,
} from '../contract/index.js';
import { ownerIf, type ProxmoxBase } from './core.js';
import { buildTags, parseConfig, parseTags } from './mapping.js';

export class ProxmoxBackups implements BackupOps {
  constructor(private readonly b: ProxmoxBase) {}

  async backup(vm: VmRef): Promise<Receipt<Backup>> {
    const { b } = this;
    const l = await b.mine(vm);
    const before = new Set((await b.backupVolumes()).map((x) => x.volid));
    const r = await b.mutate(
      'POST',
      `${b.nodePath}/vzdump`,
      {
        vmid: l.vmid,
        storage: b.c.backupStorage,
        mode: 'snapshot',
        compress: 'zstd',
        'notes-template': `vmconform run=${b.ctx.runId} vm={{guestname}}`,
      },
      'task',
    );
    const made = (await b.backupVolumes()).find((x) => !before.has(x.volid) && x.vmid === l.vmid);
    if (!made)
      throw new NotFound(`proxmox: vzdump of VM ${l.vmid} succeeded but no new archive is in ${b.c.backupStorage}`);
    return b.receipt(r, {
      id: made.volid,
      vm,
      createdAt: new Date((made.ctime ?? Date.now() / 1000) * 1000).toISOString(),
      sizeBytes: made.size,
      location: b.c.backupStorage,
    });
  }

  async restore(backup: Backup, opts: RestoreOptions): Promise<Receipt<VmRef>> {
    const { b } = this;
    const t0 = performance.now();
    // /cluster/nextid only proposes: a concurrent create may take the VMID first, and the restore is then
    // refused before anything is made (`VM <vmid> already exists on node ...`), so another VMID is safe.
    let vmid = 0;
    let accepted = false;
    let r: Receipt<string | null> | undefined;
    for (let attempt = 1; !r; attempt++) {
      if (attempt > 1) await new Promise((res) => setTimeout(res, Math.random() * 150 * attempt));
      vmid = await b.api.get<number | string>('/cluster/nextid').then(Number);
      r = await this.restoreAt(vmid, backup, () => {
        accepted = true;
      }).catch((e: unknown) => {
        if (
          !accepted &&
          attempt < 12 &&
          e instanceof Error &&
          /unable to restore VM \d+ - VM \d+ already exists/.test(e.message)
        )
          return undefined;
        throw e;
      });
    }
    const uuid = randomUUID();
    const cfg = await b.config(vmid);
    await b.mutate(
      'POST',
      `${b.nodePath}/qemu/${vmid}/config`,
      {
        name: opts.name,
        smbios1: `uuid=${uuid}`,
        tags: buildTags(b.ctx.runId, opts.placement),
        description: b.ownedDescription(parseConfig(cfg).metadata),
      },
      'device',
    );
    b.ids.set(uuid, vmid);
    return {
      result: { id: uuid, name: opts.name },
      handle: r.handle,
      acceptedMs: r.acceptedMs,
      doneMs: performance.now() - t0,
    };
  }

  /** One restore to this VMID; `accepted` hears when Proxmox took the call (the VMID is then reserved for it). */
  private restoreAt(vmid: number, backup: Backup, accepted: () => void): Promise<Receipt<string | null>> {
    const { b } = this;
    let took = false;
    return b
      .mutate(
        'POST',
        `${b.nodePath}/qemu`,
        { vmid, archive: backup.id, storage: b.c.storage, unique: 1, ...(b.c.pool ? { pool: b.c.pool } : {}) },
        'create',
        undefined,
        () => {
          took = true;
          accepted();
        },
      )
      .catch(async (e: unknown) => {
        // Proxmox reserved the VMID for this call before its task ran, and a failed restore leaves that
        // VM behind ("state is NOT cleaned up"): remove it, as this call made it.
        if (took) await this.removeFailedRestore(vmid);
        throw e;
      });
  }

  /**
   * Removes what a failed restore left at the VMID this call reserved: only a VM that carries no tags
   * (the bare config left when the data never arrived) or our ownership tag. Never fails: the sweeper
   * finds what it cannot remove by its tags.
   */
  private async removeFailedRestore(vmid: number): Promise<void> {
    const { b } = this;
    const left = (await b.vmList().catch(() => [])).find((v) => v.vmid === vmid);
    if (!left || left.lock) return;
    if (left.tags !== undefined && !parseTags(left.tags).owned) return;
    await b
      .mutate('DELETE', `${b.nodePath}/qemu/${vmid}`, { purge: 1, 'destroy-unreferenced-disks': 1 }, 'delete')
      .catch(() => undefined);
  }

  async deleteBackup(id: string): Promise<Receipt> {
    const { b } = this;
    const found = (await b.backupVolumes()).find((x) => x.volid === id);
    if (!found) throw new NotFound(`proxmox: no backup ${id} in ${b.c.backupStorage}`);
    b.ensureOwned(ownerIf(found.runId !== undefined), `backup ${id}`);
    const r = await b.mutate(
      'DELETE',
      `${b.nodePath}/storage/${encodeURIComponent(b.c.backupStorage)}/content/${encodeURIComponent(id)}`,
      {},
      'task',
    );
    return b.receipt(r, undefined);
  }

  async backups(): Promise<Backup[]> {
    const out: Backup[] = [];
    for (const x of await this.b.backupVolumes()) {
      if (!x.runId) continue;
      const name = /vm=(\S+)/.exec(x.notes ?? '')?.[1] ?? '';
      out.push({
        id: x.volid,
        vm: { id: '', name },
        createdAt: new Date((x.ctime ?? 0) * 1000).toISOString(),
        sizeBytes: x.size,
        location: this.b.c.backupStorage,
      });
    }
    return out;
  }
}
