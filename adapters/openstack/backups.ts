/**
 * VM backups as groups of Cinder volume backups, tied by a group id in their metadata; restore makes
 * volumes from them and boots a new server from those.
 */
import { waitFor } from '../../host/wait.js';
import {
  type Backup,
  type BackupOps,
  NotFound,
  PlatformError,
  type Receipt,
  type RestoreOptions,
  type VmRef,
  type VmSpec,
} from '../contract/index.js';
import type { HttpResponse } from '../http/client.js';
import type { OpenStackBase } from './core.js';
import {
  type InterfaceAttachment,
  localRootDisk,
  ownerOf,
  ownershipMetadata,
  ownKeys,
  userMetadata,
  type VolumeAttachment,
} from './mapping.js';
import type { OpenStackVms } from './vms.js';

/** Cinder backup metadata keys that tie a VM's volume backups together and keep what restore needs. */
export const backupKeys = {
  group: 'vmconform:backup-group',
  device: 'vmconform:device',
  vm: 'vmconform:vm',
  shape: 'vmconform:shape',
  nets: 'vmconform:networks',
  meta: 'vm-meta:',
} as const;

export interface RawBackup {
  id: string;
  name: string;
  volume_id: string;
  status: string;
  size: number;
  created_at: string;
  container?: string;
  metadata?: Record<string, string>;
}

/**
 * The Cinder backup that names each VM backup: its boot volume's (vda), as backups() and restore know it.
 * A group without a boot part (a backup interrupted half-way) is named by its first part, and an ungrouped
 * backup by itself, so a sweep still finds them. Not the first part listed: Cinder lists newest first, and
 * parts made in the same second come in either order (the real lab listed vdb before vda).
 */
export function backupHeads(all: readonly RawBackup[]): RawBackup[] {
  const heads = new Map<string, RawBackup>();
  for (const b of all) {
    const key = b.metadata?.[backupKeys.group] ?? b.id;
    if (!heads.has(key) || b.metadata?.[backupKeys.device] === 'vda') heads.set(key, b);
  }
  return [...heads.values()];
}

export class OpenStackBackups implements BackupOps {
  constructor(
    private readonly os: OpenStackBase,
    private readonly vms: OpenStackVms,
  ) {}

  async rawBackups(): Promise<RawBackup[]> {
    return this.os.list<RawBackup>('volumev3', '/backups/detail', 'backups');
  }

  /**
   * A VM backup is one Cinder backup per attached volume, tied by a group id in their metadata; the
   * boot volume's backup also keeps the flavor shape, the networks in order and the VM's metadata, so
   * restore rebuilds the same VM (new MACs: the original's ports may still exist).
   */
  async backup(vm: VmRef): Promise<Receipt<Backup>> {
    const { os } = this;
    const s = await os.ownedServer(vm);
    if (localRootDisk(s))
      return os.unsupported(
        'backup',
        "the server's root disk is local to the compute host (platforms.openstack.boot: image): Cinder backs up volumes only; boot: volume backs up the whole VM",
      );
    const t0 = performance.now();
    const atts = (
      await os.nova<{ volumeAttachments: VolumeAttachment[] }>('GET', `/servers/${vm.id}/os-volume_attachments`)
    ).body.volumeAttachments.sort((a, b) => a.device.localeCompare(b.device));
    const ifaces = (
      await os.nova<{ interfaceAttachments: InterfaceAttachment[] }>('GET', `/servers/${vm.id}/os-interface`)
    ).body.interfaceAttachments;
    const nets: string[] = [];
    for (const i of ifaces) nets.push((await os.neutron.networkById(i.net_id))?.name ?? i.net_id);
    const group = `${os.ctx.runId}-${Date.now().toString(36)}`;
    const ids: string[] = [];
    let first: HttpResponse | undefined;
    for (const a of atts) {
      const device = a.device.replace(/^\/dev\//, '');
      const boot = device === 'vda';
      const meta: Record<string, string> = {
        ...ownershipMetadata(os.tag()),
        [backupKeys.group]: group,
        [backupKeys.device]: device,
        [backupKeys.vm]: `${s.id} ${s.name}`,
        ...(a.tag ? { [ownKeys.disk]: a.tag } : {}),
        ...(boot
          ? {
              [backupKeys.shape]: `${s.flavor.vcpus ?? 1} ${s.flavor.ram ?? 256}`,
              [backupKeys.nets]: nets.join(','),
              ...Object.fromEntries(
                Object.entries(userMetadata(s.metadata)).map(([k, v]) => [`${backupKeys.meta}${k}`, v]),
              ),
            }
          : {}),
      };
      const r = await os.call<{ backup: { id: string } }>('volumev3', 'POST', '/backups', {
        json: { backup: { volume_id: a.volumeId, name: `${s.name}-${device}`, force: true, metadata: meta } },
      });
      first ??= r;
      ids.push(r.body.backup.id);
    }
    const acceptedMs = performance.now() - t0;
    for (const id of ids) await this.awaitBackup(id);
    const result = (await this.backups()).find((b) => b.id === ids[0]);
    if (!result) throw new NotFound(`openstack: backup group ${group} not listed after it was made`);
    return {
      result,
      handle: { kind: 'request', id: first?.requestId ?? null, note: 'Cinder request id of the boot volume backup' },
      acceptedMs,
      doneMs: performance.now() - t0,
    };
  }

  private async awaitBackup(id: string): Promise<void> {
    let last = '';
    await waitFor(
      `backup ${id} to be available`,
      this.os.policy('task'),
      async () => {
        const b = (await this.os.call<{ backup: RawBackup }>('volumev3', 'GET', `/backups/${id}`)).body.backup;
        last = b.status;
        if (b.status === 'error')
          throw new PlatformError(`openstack: backup ${id} failed`, 'cinder-backup-error', b.status);
        return b.status === 'available' ? true : undefined;
      },
      { describeLast: () => last },
    );
  }

  private async backupGroup(id: string): Promise<RawBackup[]> {
    const all = await this.rawBackups();
    const head = all.find((b) => b.id === id);
    if (!head) throw new NotFound(`openstack: no Cinder backup with id ${id}`);
    const group = head.metadata?.[backupKeys.group];
    if (!group) return [head];
    return all
      .filter((b) => b.metadata?.[backupKeys.group] === group)
      .sort((a, b) => String(a.metadata?.[backupKeys.device]).localeCompare(String(b.metadata?.[backupKeys.device])));
  }

  async restore(backup: Backup, opts: RestoreOptions): Promise<Receipt<VmRef>> {
    const { os } = this;
    const t0 = performance.now();
    const parts = await this.backupGroup(backup.id);
    const boot = parts.find((b) => b.metadata?.[backupKeys.device] === 'vda');
    if (!boot?.metadata) throw new NotFound(`openstack: backup ${backup.id} has no boot volume backup`);
    const m = boot.metadata;
    const [vcpus, ram] = (m[backupKeys.shape] ?? '1 256').split(' ').map(Number);
    return os.withRollback(async (rollback) => {
      const made: string[] = [];
      for (const b of parts) {
        // Volume from backup needs volume API 3.47.
        const r = await os.call<{ volume: { id: string } }>('volumev3', 'POST', '/volumes', {
          json: {
            volume: {
              name: `${opts.name}-${b.metadata?.[backupKeys.device]}`,
              backup_id: b.id,
              metadata: {
                ...ownershipMetadata(os.tag()),
                ...(b.metadata?.[ownKeys.disk] ? { [ownKeys.disk]: b.metadata[ownKeys.disk] } : {}),
              },
            },
          },
        });
        const id = r.body.volume.id;
        made.push(id);
        rollback.add(`volume ${id}`, () => os.cinder.delete(id));
      }
      for (const v of made) await os.awaitVolume(v, ['available'], 'task');
      const metadata = Object.fromEntries(
        Object.entries(m)
          .filter(([k]) => k.startsWith(backupKeys.meta))
          .map(([k, v]) => [k.slice(backupKeys.meta.length), v]),
      );
      const spec: VmSpec = {
        name: opts.name,
        vcpus: vcpus ?? 1,
        memoryMiB: ram ?? 256,
        image: '',
        disks: made.slice(1).map((v, i) => ({
          name: parts[i + 1]?.metadata?.[ownKeys.disk] ?? `disk${i + 1}`,
          sizeBytes: 0,
          volumeId: v,
        })),
        nics: (m[backupKeys.nets] ?? '')
          .split(',')
          .filter(Boolean)
          .map((network) => ({ network })),
        metadata,
        ...(opts.placement ? { placement: opts.placement } : {}),
      };
      const r = await this.vms.createServer(spec, { boot: made[0] as string, owned: new Set(made) });
      return { ...r, acceptedMs: r.acceptedMs, doneMs: performance.now() - t0 };
    });
  }

  async deleteBackup(id: string): Promise<Receipt> {
    const { os } = this;
    const parts = await this.backupGroup(id);
    for (const b of parts) os.ensureOwned(ownerOf(b.metadata), `backup ${id} (part ${b.id})`);
    return os.untracked('Cinder backup deletes have no action log', async () => {
      for (const b of parts) await os.call('volumev3', 'DELETE', `/backups/${b.id}`, { idempotent: true });
      await waitFor(`backups of ${id} to be deleted`, os.policy('delete'), async () => {
        const left = new Set((await this.rawBackups()).map((b) => b.id));
        return parts.some((b) => left.has(b.id)) ? undefined : true;
      });
    });
  }

  /** One contract backup per group: identified by its boot volume's backup. */
  async backups(): Promise<Backup[]> {
    const out: Backup[] = [];
    const all = await this.rawBackups();
    for (const b of all) {
      const meta = b.metadata ?? {};
      if (meta[backupKeys.device] !== 'vda' || !meta[backupKeys.group]) continue;
      const parts = all.filter((x) => x.metadata?.[backupKeys.group] === meta[backupKeys.group]);
      const [id = '', name = ''] = (meta[backupKeys.vm] ?? '').split(' ');
      out.push({
        id: b.id,
        vm: { id, name },
        createdAt: b.created_at,
        sizeBytes: parts.reduce((a, x) => a + x.size * 1024 ** 3, 0),
        location: `Cinder backups in container ${b.container ?? '?'} (${parts.length} volume backup(s), group ${meta[backupKeys.group]})`,
      });
    }
    return out;
  }
}
