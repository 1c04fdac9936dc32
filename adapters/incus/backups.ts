/** Incus instance backups: made and listed per instance, restored by exporting and re-importing the tarball. */
import { randomUUID } from 'node:crypto';
import {
  type Backup,
  type BackupOps,
  NotFound,
  type Receipt,
  type RestoreOptions,
  Unsupported,
  type VmRef,
} from '../contract/index.js';
import { enc, type IncusBase, receipt } from './core.js';
import { keys, ownerOf } from './mapping.js';
import { operationIdOf } from './operations.js';

export class IncusBackups implements BackupOps {
  constructor(private readonly b: IncusBase) {}

  async backup(vm: VmRef): Promise<Receipt<Backup>> {
    const { name } = await this.b.ownedInstance(vm);
    const bname = `vmc-${Date.now().toString(36)}`;
    const r = await this.b.client.async(
      'POST',
      `/1.0/instances/${enc(name)}/backups`,
      { json: { name: bname, compression_algorithm: 'none', instance_only: false } },
      `backup ${name}`,
    );
    const b = await this.b.client.sync<{ name: string; created_at: string }>(
      'GET',
      `/1.0/instances/${enc(name)}/backups/${enc(bname)}`,
    );
    return receipt(r, {
      id: `${name}/${bname}`,
      vm,
      createdAt: b.created_at,
      sizeBytes: 0,
      location: `Incus instance backup ${name}/${bname} (pool ${this.b.cfg.pool})`,
    });
  }

  /** Incus restores a backup elsewhere by exporting its tarball and POSTing it to /1.0/instances under a new name. */
  async restore(backup: Backup, opts: RestoreOptions): Promise<Receipt<VmRef>> {
    const { client } = this.b;
    const [inst, bname] = backup.id.split('/') as [string, string];
    const t0 = performance.now();
    const file = await client
      .raw('GET', `/1.0/instances/${enc(inst)}/backups/${enc(bname)}/export`, { binary: true })
      .catch(async (e: unknown) => {
        const gone =
          e instanceof NotFound &&
          (await this.b.getInstance(inst).then(
            () => false,
            () => true,
          ));
        if (!gone) throw e;
        // Incus deletes an instance's backups with the instance (and they never hold its custom volumes).
        throw new Unsupported(
          `restoring after the VM was deleted: Incus removed backup ${backup.id} with its instance; the adapter would have to export the backup (and each custom volume's own backup) when it is made, which it does not yet`,
          'adapter',
        );
      });
    const res = await client.raw('POST', '/1.0/instances', {
      raw: file.body as Buffer,
      headers: { 'x-incus-name': opts.name, 'x-incus-pool': this.b.cfg.pool },
    });
    const id = operationIdOf(res.body);
    if (!id) throw new Error(`incus: restore of ${backup.id} returned no operation`);
    await client.wait(id, `restore ${backup.id} as ${opts.name}`);
    const created = await this.b.getInstance(opts.name);
    let uuid = created.config['volatile.uuid'] as string;
    const config: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.placement ?? {})) if (v) config[`${keys.placementPrefix}${k}`] = v;
    // Incus keeps the instance UUID on import; while the original lives, the copy needs its own id.
    const twin = (await this.b.instances()).some((i) => i.name !== opts.name && i.config['volatile.uuid'] === uuid);
    if (twin) {
      uuid = randomUUID();
      config['volatile.uuid'] = uuid;
    }
    if (Object.keys(config).length > 0)
      await client.async('PATCH', `/1.0/instances/${enc(opts.name)}`, { json: { config } }, `place ${opts.name}`);
    this.b.names.set(uuid, opts.name);
    return {
      result: { id: uuid, name: opts.name },
      handle: { kind: 'operation', id },
      acceptedMs: res.durationMs,
      doneMs: performance.now() - t0,
    };
  }

  async deleteBackup(id: string): Promise<Receipt> {
    const [inst, bname] = id.split('/') as [string, string];
    return receipt(
      await this.b.client.async(
        'DELETE',
        `/1.0/instances/${enc(inst)}/backups/${enc(bname)}`,
        {},
        `delete backup ${id}`,
      ),
      undefined,
    );
  }

  async backups(): Promise<Backup[]> {
    const out: Backup[] = [];
    for (const i of await this.b.instances()) {
      if (!ownerOf(i.config)) continue;
      const list = await this.b.client.sync<{ name: string; created_at: string }[]>(
        'GET',
        `/1.0/instances/${enc(i.name)}/backups`,
        { query: { recursion: 1 } },
      );
      for (const b of list)
        out.push({
          id: `${i.name}/${b.name}`,
          vm: { id: i.config['volatile.uuid'] as string, name: i.name },
          createdAt: b.created_at,
          sizeBytes: 0,
          location: `Incus instance backup ${i.name}/${b.name}`,
        });
    }
    return out;
  }
}
