/**
 * libvirt portable backups: libvirt has no backup store, so a backup is a harness-side directory of
 * flattened disks, the domain XML and a manifest; a restore uploads them through the API.
 */
import { mkdir, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type Backup,
  type BackupOps,
  Conflict,
  NotFound,
  NotOwned,
  PlatformError,
  type Receipt,
  type RestoreOptions,
  runIdPattern,
  type VmRef,
} from '../contract/index.js';
import {
  type BackupDisk,
  type BackupManifest,
  backupId,
  backupSchema,
  manifestFile,
  parseBackupManifest,
  toBackup,
} from './backup-manifest.js';
import { defaultBackupDir, type LibvirtBase } from './core.js';
import { sha256File } from './disk-files.js';
import type { DomainBuild } from './mapping.js';
import { parseCapabilities } from './virsh-output.js';
import type { LibvirtVms } from './vms.js';

export class LibvirtBackups implements BackupOps {
  constructor(
    private readonly b: LibvirtBase,
    private readonly vms: LibvirtVms,
  ) {}

  private get backupRoot(): string {
    return this.b.cfg.backupDir ?? defaultBackupDir;
  }

  /**
   * A portable backup of a stopped VM: every disk downloaded and flattened to qcow2, the domain XML,
   * and a manifest, in a directory of this run under the harness's backup folder.
   */
  async backup(vm: VmRef): Promise<Receipt<Backup>> {
    const { b } = this;
    const d = await b.ownedDomain(vm);
    if ((await b.state(vm)).power !== 'stopped')
      throw new Conflict(
        `${vm.name} is running: this adapter backs up stopped VMs (consistent disks without an agent)`,
      );
    const at = new Date();
    const id = backupId(b.ctx.runId, d.name, at);
    const dir = join(this.backupRoot, id);
    return b.timed(async () => {
      await mkdir(dir, { recursive: true });
      try {
        const state = await this.vms.inspect(vm);
        const disks: BackupDisk[] = [];
        for (const disk of state.config.disks) {
          const [pool, name] = disk.volumeId.split('/', 2) as [string, string];
          const file = `${disk.target}.qcow2`;
          await b.withTempDir(async (tmp) => {
            const got = await b.download(pool, name, tmp);
            await b.qemuImg.convert(got.path, got.format, join(dir, file), 'qcow2');
          });
          disks.push({
            target: disk.target,
            serial: disk.serial,
            role: disk.role,
            file,
            format: 'qcow2',
            virtualBytes: (await b.qemuImg.info(join(dir, file))).virtualBytes,
            sha256: await sha256File(join(dir, file)),
          });
        }
        await writeFile(join(dir, 'domain.xml'), await b.virsh.run(['dumpxml', '--inactive', vm.id]));
        const hostId = parseCapabilities(await b.virsh.run(['capabilities'])).uuid;
        const manifest: BackupManifest = {
          schema: backupSchema,
          id,
          runId: b.ctx.runId,
          createdAt: at.toISOString(),
          source: { uri: b.cfg.uri, hostId },
          vm: { id: d.uuid, name: d.name },
          config: state.config,
          domainXmlFile: 'domain.xml',
          disks,
        };
        await writeFile(join(dir, manifestFile), JSON.stringify(manifest, null, 2));
        return toBackup(manifest, dir);
      } catch (e) {
        await rm(dir, { recursive: true, force: true });
        await rmdir(join(this.backupRoot, b.ctx.runId)).catch(() => undefined);
        throw e;
      }
    });
  }

  private async readManifest(dir: string): Promise<BackupManifest> {
    const text = await readFile(join(dir, manifestFile), 'utf8').catch((e: NodeJS.ErrnoException) => {
      throw e.code === 'ENOENT' ? new NotFound(`no backup at ${dir}`) : e;
    });
    return parseBackupManifest(text, dir);
  }

  /**
   * Restores onto this host under a new name: disks uploaded through the API, the VM defined with the
   * backup's metadata, NICs (same MACs) and firmware, and its original UUID when this host has no
   * domain with it (a recovery keeps its identity); otherwise libvirt assigns a new one.
   */
  async restore(backup: Backup, opts: RestoreOptions): Promise<Receipt<VmRef>> {
    const { b } = this;
    b.requireRunPrefix('restore name', opts.name);
    b.checkPlacement(opts.placement);
    const m = await this.readManifest(backup.location);
    const uuidFree = await b.virsh.run(['domname', m.vm.id]).then(
      () => false,
      (e) => (e instanceof NotFound ? true : Promise.reject(e)),
    );
    return this.vms.defineOwned(opts.name, async (created) => {
      const disks: DomainBuild['disks'] = [];
      for (const disk of m.disks) {
        const file = join(backup.location, disk.file);
        const sum = await sha256File(file);
        if (sum !== disk.sha256)
          throw new PlatformError(
            `backup disk ${file} hashes to ${sum}, manifest says ${disk.sha256}`,
            'bad-backup',
            sum,
          );
        const volume = `${opts.name}-${disk.serial || disk.target}`;
        await b.uploadAsRaw(b.cfg.pool, volume, { path: file, format: disk.format });
        created.push(volume);
        disks.push({ volume, target: disk.target, serial: disk.serial, format: 'raw' });
      }
      const placement = opts.placement ?? m.config.placement;
      return {
        ...(uuidFree ? { uuid: m.vm.id } : {}),
        vcpus: m.config.vcpus,
        memoryMiB: m.config.memoryMiB,
        disks,
        nics: m.config.nics.map((n) => ({
          network: n.network,
          external: n.external,
          mac: n.mac,
          ...(n.vlan === undefined ? {} : { vlan: n.vlan }),
        })),
        metadata: m.config.metadata,
        ...(Object.keys(placement).length > 0 ? { placement } : {}),
        ...(m.config.firmware ? { firmware: m.config.firmware } : {}),
      };
    });
  }

  async deleteBackup(id: string): Promise<Receipt> {
    const runId = id.split('/', 1)[0] ?? '';
    if (!runIdPattern.test(runId) || id.split('/').length !== 2 || id.includes('..'))
      throw new NotOwned(`refusing to delete backup '${id}': not a <run id>/<name> backup of this harness`);
    const dir = join(this.backupRoot, id);
    await this.readManifest(dir);
    return this.b.timed(async () => {
      await rm(dir, { recursive: true, force: true });
      // The run's folder goes with its last backup.
      await rmdir(join(this.backupRoot, runId)).catch(() => undefined);
    });
  }

  async backups(): Promise<Backup[]> {
    const out: Backup[] = [];
    for (const run of await readdir(this.backupRoot).catch(() => [] as string[])) {
      if (!runIdPattern.test(run)) continue;
      for (const name of await readdir(join(this.backupRoot, run)).catch(() => [] as string[])) {
        const dir = join(this.backupRoot, run, name);
        const m = await this.readManifest(dir).catch(() => undefined);
        if (m) out.push(toBackup(m, dir));
      }
    }
    return out;
  }
}
