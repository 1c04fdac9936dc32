/**
 * What every libvirt concern part shares: the config, the virsh connection and transcript, and the
 * helpers more than one part uses (owned-domain lookup, volume and temp-file handling, receipts).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WaitOperation, WaitPolicy } from '../../host/wait.js';
import {
  AdapterBase,
  type AdapterContext,
  type Capabilities,
  ConfigInvalid,
  Conflict,
  NotFound,
  type Placement,
  type Receipt,
  type TaskHandle,
  type VmRef,
} from '../contract/index.js';
import { Virsh } from './client.js';
import { QemuImg } from './disk-files.js';
import { mapDomState, ownedVolumeRun, parseDomainXml, parseVolumeXml } from './mapping.js';
import { RemoteFiles, type RemoteHost } from './remote-console.js';

export interface LibvirtConfig {
  uri: string;
  pool: string;
  imagePool: string;
  accel: 'kvm' | 'tcg';
  kernel: string;
  initrd: string;
  cmdline: string;
  consoleDir: string;
  bootDiskBytes: number;
  site?: string;
  failureDomain?: string;
  /** Why a lab prerequisite is missing on this host, measured by `lab up`. */
  prereqMissing: Capabilities['prereqMissing'];
  waits?: Partial<Record<WaitOperation, WaitPolicy>>;
  /** Connect as another local user (wrong credentials for AUT-01). */
  uid?: number;
  /** ssh access to a remote host (qemu+ssh): the guest view reads its console log over SFTP. */
  remote?: RemoteHost;
  /** Backstop per virsh call; a remote site that is lost must fail a call in bounded time (MDC-03). */
  commandTimeoutMs?: number;
  /** Harness-side folder for portable backups (default /var/lib/vmconform/backups). */
  backupDir?: string;
  /**
   * 'full' creates data volumes raw with their whole size allocated, as a thick pool (LVM) does; the
   * default 'thin' is sparse qcow2. The storage-full fault (OPS-01) needs space taken at create time.
   */
  allocation?: 'thin' | 'full';
  /** The QEMU binary new domains name as <emulator>; absent: libvirt's default. */
  emulator?: string;
  /** Further pools the harness owns vmc-<run id>- volumes in (the lab's small pool), so leak checks and sweep see them. */
  ownedPools?: string[];
}

export const defaultBackupDir = '/var/lib/vmconform/backups';

/** libvirt has no task ids: every call is synchronous. The evidence says so instead of inventing one. */
export const noHandle: TaskHandle = {
  kind: 'none',
  id: null,
  note: 'libvirt API calls are synchronous and return no task or job id',
};

export const mac = () =>
  `52:54:00:${Array.from(randomBytes(3))
    .map((b) => b.toString(16).padStart(2, '0'))
    .join(':')}`;

export class LibvirtBase extends AdapterBase {
  readonly virsh: Virsh;
  readonly remoteFiles: RemoteFiles | undefined;
  readonly qemuImg: QemuImg;
  /** The daemon's host UUID, learned by the first call that reads the capabilities. */
  hostId: string | undefined;

  constructor(
    readonly cfg: LibvirtConfig,
    ctx: AdapterContext,
  ) {
    super('libvirt', ctx, cfg.waits);
    this.virsh = new Virsh({
      uri: cfg.uri,
      transcript: ctx.transcript,
      ...(cfg.uid === undefined ? {} : { uid: cfg.uid }),
      ...(cfg.commandTimeoutMs === undefined ? {} : { commandTimeoutMs: cfg.commandTimeoutMs }),
    });
    this.remoteFiles = cfg.remote ? new RemoteFiles(cfg.remote) : undefined;
    this.qemuImg = new QemuImg(ctx.transcript);
  }

  get isLocal(): boolean {
    return !/^[a-z+]+:\/\/[^/]/.test(this.cfg.uri);
  }

  /** Runs a command and measures it; libvirt calls return when done, so accepted == done. */
  async timed<T>(fn: () => Promise<T>): Promise<Receipt<T>> {
    const t0 = performance.now();
    const result = await fn();
    const ms = performance.now() - t0;
    return { result, handle: noHandle, acceptedMs: ms, doneMs: ms };
  }

  async withTempFile<T>(content: string, fn: (path: string) => Promise<T>): Promise<T> {
    const dir = await mkdtemp(join(tmpdir(), 'vmconform-'));
    try {
      const p = join(dir, 'doc.xml');
      await writeFile(p, content);
      return await fn(p);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
    const dir = await mkdtemp(join(tmpdir(), 'vmconform-disk-'));
    try {
      return await fn(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  get ownedPools(): string[] {
    return [this.cfg.pool, ...(this.cfg.ownedPools ?? []).filter((p) => p !== this.cfg.pool)];
  }

  get dataFormat(): 'raw' | 'qcow2' {
    return this.cfg.allocation === 'full' ? 'raw' : 'qcow2';
  }

  async createVolume(name: string, sizeBytes: number, backing?: { path: string; format: string }): Promise<string> {
    const format = backing ? 'qcow2' : this.dataFormat;
    const args = ['vol-create-as', this.cfg.pool, name, `${sizeBytes}B`, '--format', format];
    if (backing) args.push('--backing-vol', backing.path, '--backing-vol-format', backing.format);
    await this.virsh.run(args);
    return name;
  }

  async deleteVolumeByName(name: string): Promise<void> {
    await this.virsh.run(['vol-delete', name, '--pool', this.cfg.pool]);
  }

  /** The format of an existing volume in the harness pool (imported volumes are raw). */
  async volumeFormat(name: string): Promise<string> {
    return parseVolumeXml(await this.virsh.run(['vol-dumpxml', name, '--pool', this.cfg.pool])).format;
  }

  /** One daemon is one host: a placement it cannot honour is refused, never silently ignored. */
  checkPlacement(placement: Placement | undefined): void {
    for (const [key, here] of [
      ['site', this.cfg.site],
      ['failureDomain', this.cfg.failureDomain],
    ] as const) {
      const want = placement?.[key];
      if (want !== undefined && want !== here)
        throw new Conflict(`placement.${key} '${want}' is not this host's (${this.cfg.uri}: ${here ?? 'unlabelled'})`);
    }
  }

  async state(vm: VmRef) {
    return mapDomState(await this.virsh.run(['domstate', vm.id]));
  }

  async domain(vm: VmRef) {
    return parseDomainXml(await this.virsh.run(['dumpxml', vm.id]));
  }

  /** The domain, read once, if it carries the harness's ownership tag; a typed refusal otherwise. */
  async ownedDomain(vm: VmRef) {
    const d = await this.domain(vm);
    this.ensureOwned(d.config.owner, `domain '${d.name}' (${vm.id})`);
    return d;
  }

  async deviceFlags(vm: VmRef): Promise<string[]> {
    return (await this.state(vm)).power === 'running' ? ['--config', '--live'] : ['--config'];
  }

  /** virsh output as trimmed, non-empty lines (name and uuid listings). */
  async lines(args: string[]): Promise<string[]> {
    return (await this.virsh.run(args))
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
  }

  async volumeNames(pool: string): Promise<string[]> {
    return (await this.virsh.run(['vol-list', pool]))
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[0])
      .filter((n): n is string => !!n);
  }

  /** A volume's XML, or undefined when it went away after it was listed (the pool is shared). */
  async volumeXml(pool: string, name: string): Promise<string | undefined> {
    return this.virsh
      .run(['vol-dumpxml', name, '--pool', pool])
      .catch((e) => (e instanceof NotFound ? undefined : Promise.reject(e)));
  }

  async volumeExists(pool: string, name: string): Promise<boolean> {
    return this.virsh.run(['vol-info', name, '--pool', pool]).then(
      () => true,
      (e) => (e instanceof NotFound ? false : Promise.reject(e)),
    );
  }

  /** Names the harness may create: `vmc-<this run>-...`, so ownership can be read back from the name. */
  requireRunPrefix(field: string, name: string): void {
    if (ownedVolumeRun(name) !== this.ctx.runId)
      throw new ConfigInvalid(`${field} '${name}': expected a name starting with vmc-${this.ctx.runId}-`);
  }

  /** Creates a raw volume holding exactly the file's content (converted locally when it is qcow2). */
  async uploadAsRaw(pool: string, name: string, src: { path: string; format: string }): Promise<number> {
    return this.withTempDir(async (dir) => {
      let raw = src.path;
      if (src.format !== 'raw') {
        raw = join(dir, 'upload.raw');
        await this.qemuImg.convert(src.path, src.format, raw, 'raw');
      }
      const size = (await stat(raw)).size;
      await this.virsh.run(['vol-create-as', pool, name, `${size}B`, '--format', 'raw']);
      try {
        await this.virsh.run(['vol-upload', name, raw, '--pool', pool, '--sparse']);
      } catch (e) {
        await this.virsh.run(['vol-delete', name, '--pool', pool]).catch(() => undefined);
        throw e;
      }
      return size;
    });
  }

  /**
   * Downloads a volume through the API into `dir`; a copy-on-write overlay brings its backing chain
   * along and is re-pointed at the local copies, so the result is usable off this host.
   */
  async download(pool: string, name: string, dir: string): Promise<{ path: string; format: string }> {
    const v = parseVolumeXml(await this.virsh.run(['vol-dumpxml', name, '--pool', pool]));
    const path = join(dir, `${pool}--${name}`);
    await this.virsh.run(['vol-download', name, path, '--pool', pool, '--sparse']);
    if (v.backing) {
      const bName = (await this.virsh.run(['vol-name', v.backing])).trim();
      const bPool = (await this.virsh.run(['vol-pool', v.backing])).trim();
      const b = await this.download(bPool, bName, dir);
      await this.qemuImg.rebase(path, b.path, b.format);
    }
    // libvirt's dir pool probes a NoCloud seed as format 'iso': to qemu-img that is raw bytes.
    return { path, format: v.format === 'iso' ? 'raw' : v.format };
  }
}
