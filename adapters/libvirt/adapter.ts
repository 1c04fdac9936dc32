import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Transcript } from '../../evidence/transcript.js';
import { parseConsole } from '../../host/guest/report.js';
import { defaultWaitPolicies, type WaitOperation, type WaitPolicy, waitFor } from '../../host/wait.js';
import {
  type AttachedDisk,
  type AttachedNic,
  type Backup,
  type Capabilities,
  ConfigInvalid,
  Conflict,
  type DiskSpec,
  type Driver,
  type GuestProbe,
  type Host,
  type HostMetrics,
  type Image,
  type ImageSource,
  type Network,
  type NicSpec,
  NotFound,
  NotOwned,
  type OwnedObject,
  ownershipMarker,
  type Placement,
  PlatformError,
  type PlatformEvent,
  type PlatformInfo,
  type Receipt,
  type Resize,
  type RestoreOptions,
  runIdPattern,
  type StopOptions,
  type StoragePool,
  type TaskHandle,
  type TaskInfo,
  Unsupported,
  type VmMetrics,
  type VmRef,
  type VmSpec,
  type VmState,
  type Volume,
  type VolumeFile,
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
import { Virsh } from './client.js';
import { QemuImg, sha256File } from './disk-files.js';
import {
  buildDeviceXml,
  buildDomainXml,
  type DomainBuild,
  diskXml,
  imageVolumeName,
  mapDomState,
  nextFreeTarget,
  nicXml,
  ownedVolumeRun,
  parseCapabilities,
  parseDomainXml,
  parseDomStats,
  parseDomStatsRecords,
  parseEventLine,
  parseImageVolumeName,
  parseNodeCpuStats,
  parseNodeMemTotal,
  parsePoolXml,
  parseVersion,
  parseVolumeXml,
  targetFor,
  toVmMetrics,
  toVolume,
} from './mapping.js';
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
  /** Further pools the harness owns vmc-<run id>- volumes in (the lab's small pool), so leak checks and sweep see them. */
  ownedPools?: string[];
}

export const defaultBackupDir = '/var/lib/vmconform/backups';

/** Domain parts every domain of this adapter gets from its config and run, whatever created it. */
type FixedParts = 'name' | 'accel' | 'kernel' | 'initrd' | 'cmdline' | 'consoleLog' | 'pool' | 'owner' | 'ownedVolumes';

export interface DriverContext {
  runId: string;
  transcript: Transcript;
}

/** libvirt has no task ids: every call is synchronous. The evidence says so instead of inventing one. */
const noHandle: TaskHandle = {
  kind: 'none',
  id: null,
  note: 'libvirt API calls are synchronous and return no task or job id',
};

const mac = () =>
  `52:54:00:${Array.from(randomBytes(3))
    .map((b) => b.toString(16).padStart(2, '0'))
    .join(':')}`;

export class LibvirtDriver implements Driver {
  readonly platform = 'libvirt' as const;
  private readonly virsh: Virsh;
  private readonly remoteFiles: RemoteFiles | undefined;
  private hostId: string | undefined;
  private readonly qemuImg: QemuImg;

  constructor(
    private readonly cfg: LibvirtConfig,
    private readonly ctx: DriverContext,
  ) {
    this.virsh = new Virsh({
      uri: cfg.uri,
      transcript: ctx.transcript,
      ...(cfg.uid === undefined ? {} : { uid: cfg.uid }),
      ...(cfg.commandTimeoutMs === undefined ? {} : { commandTimeoutMs: cfg.commandTimeoutMs }),
    });
    this.remoteFiles = cfg.remote ? new RemoteFiles(cfg.remote) : undefined;
    this.qemuImg = new QemuImg(ctx.transcript);
  }

  private policy(op: WaitOperation): WaitPolicy {
    return this.cfg.waits?.[op] ?? defaultWaitPolicies[op];
  }

  private get isLocal(): boolean {
    return !/^[a-z+]+:\/\/[^/]/.test(this.cfg.uri);
  }

  async capabilities(): Promise<Capabilities> {
    return {
      instanceType: 'vm',
      evidence: 'real',
      hotplugDisk: true,
      hotplugNic: true,
      resizeDisk: 'online',
      rename: 'stopped-only',
      taskHandles: false,
      events: 'push',
      guestView: 'serial-console',
      // libvirt cannot query domains by metadata: the adapter reads each domain's XML and filters.
      metadataFilter: 'adapter',
      externalBridge: true,
      // One libvirtd per host: emptying a host means stopping its VMs (migration needs a second host).
      hostMaintenance: 'stop-only',
      // libvirt has no image versions; the adapter publishes each version as a new volume and never rewrites one.
      imageVersions: 'adapter-convention',
      prereqMissing: this.cfg.prereqMissing,
    };
  }

  async platformInfo(): Promise<PlatformInfo> {
    const v = parseVersion(await this.virsh.run(['version', '--daemon']));
    return {
      platform: 'libvirt',
      product: 'libvirt',
      version: v.daemon ?? v.library ?? 'unknown',
      ...(v.api ? { apiVersion: v.api } : {}),
      ...(v.hypervisor ? { hypervisor: v.hypervisor } : {}),
      accel: this.cfg.accel,
      endpoint: this.cfg.uri,
    };
  }

  async hosts(): Promise<Host[]> {
    const caps = parseCapabilities(await this.virsh.run(['capabilities']));
    this.hostId = caps.uuid;
    const stats = parseDomStats(await this.virsh.run(['domstats', '--list-active', '--vcpu', '--balloon']));
    const memoryBytes = parseNodeMemTotal(await this.virsh.run(['nodememstats']));
    const pool = await this.virsh.run(['pool-dumpxml', this.cfg.pool]);
    const num = (tag: string) => Number(new RegExp(`<${tag}[^>]*>(\\d+)<`).exec(pool)?.[1] ?? 0);
    return [
      {
        id: caps.uuid,
        name: this.cfg.uri,
        ...(this.cfg.site ? { site: this.cfg.site } : {}),
        ...(this.cfg.failureDomain ? { failureDomain: this.cfg.failureDomain } : {}),
        capacity: { cpus: caps.cpus, memoryBytes, storageBytes: num('capacity') },
        allocated: {
          cpus: stats.reduce((a, s) => a + s.vcpus, 0),
          memoryBytes: stats.reduce((a, s) => a + s.memoryBytes, 0),
          storageBytes: num('allocation'),
        },
      },
    ];
  }

  /** Runs a command and measures it; libvirt calls return when done, so accepted == done. */
  private async timed<T>(fn: () => Promise<T>): Promise<Receipt<T>> {
    const t0 = performance.now();
    const result = await fn();
    const ms = performance.now() - t0;
    return { result, handle: noHandle, acceptedMs: ms, doneMs: ms };
  }

  private async withTempFile<T>(content: string, fn: (path: string) => Promise<T>): Promise<T> {
    const dir = await mkdtemp(join(tmpdir(), 'vmconform-'));
    try {
      const p = join(dir, 'doc.xml');
      await writeFile(p, content);
      return await fn(p);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private get ownedPools(): string[] {
    return [this.cfg.pool, ...(this.cfg.ownedPools ?? []).filter((p) => p !== this.cfg.pool)];
  }

  private get dataFormat(): 'raw' | 'qcow2' {
    return this.cfg.allocation === 'full' ? 'raw' : 'qcow2';
  }

  private async createVolume(
    name: string,
    sizeBytes: number,
    backing?: { path: string; format: string },
  ): Promise<string> {
    const format = backing ? 'qcow2' : this.dataFormat;
    const args = ['vol-create-as', this.cfg.pool, name, `${sizeBytes}B`, '--format', format];
    if (backing) args.push('--backing-vol', backing.path, '--backing-vol-format', backing.format);
    await this.virsh.run(args);
    return name;
  }

  private async deleteVolumeByName(name: string): Promise<void> {
    await this.virsh.run(['vol-delete', name, '--pool', this.cfg.pool]);
  }

  /** NoCloud seed: an ISO labelled cidata, uploaded as a volume so remote hosts work too. */
  private async createSeed(name: string, vmName: string, userData: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'vmconform-seed-'));
    try {
      await writeFile(join(dir, 'user-data'), userData);
      await writeFile(join(dir, 'meta-data'), `instance-id: ${vmName}\nlocal-hostname: ${vmName}\n`);
      const iso = join(dir, 'seed.iso');
      await execa(
        'genisoimage',
        [
          '-quiet',
          '-output',
          iso,
          '-volid',
          'cidata',
          '-joliet',
          '-rock',
          join(dir, 'user-data'),
          join(dir, 'meta-data'),
        ],
        {
          stdin: 'ignore',
        },
      );
      const size = (await stat(iso)).size;
      await this.virsh.run(['vol-create-as', this.cfg.pool, name, `${size}B`, '--format', 'raw']);
      await this.virsh.run(['vol-upload', name, iso, '--pool', this.cfg.pool]);
      return name;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async imagePath(image: string): Promise<{ path: string; format: string }> {
    const [pool, vol] = image.includes('/') ? image.split('/', 2) : [this.cfg.imagePool, image];
    const v = parseVolumeXml(await this.virsh.run(['vol-dumpxml', vol as string, '--pool', pool as string]));
    return { path: v.path, format: v.format };
  }

  /** The format of an existing volume in the harness pool (imported volumes are raw). */
  private async volumeFormat(name: string): Promise<string> {
    return parseVolumeXml(await this.virsh.run(['vol-dumpxml', name, '--pool', this.cfg.pool])).format;
  }

  /** One daemon is one host: a placement it cannot honour is refused, never silently ignored. */
  private checkPlacement(placement: Placement | undefined): void {
    for (const [key, here] of [
      ['site', this.cfg.site],
      ['failureDomain', this.cfg.failureDomain],
    ] as const) {
      const want = placement?.[key];
      if (want !== undefined && want !== here)
        throw new Conflict(`placement.${key} '${want}' is not this host's (${this.cfg.uri}: ${here ?? 'unlabelled'})`);
    }
  }

  /** What a new domain is made of; the rest (boot kernel, console log, pool, owner) comes from this adapter. */
  private async defineOwned(
    name: string,
    parts: (created: string[]) => Promise<Omit<DomainBuild, FixedParts>>,
  ): Promise<Receipt<VmRef>> {
    const exists = await this.virsh.run(['domuuid', name]).then(
      () => true,
      (e) => (e instanceof NotFound ? false : Promise.reject(e)),
    );
    // define with an existing name would silently rewrite that domain, whoever owns it.
    if (exists) throw new Conflict(`a domain named '${name}' already exists`);
    const t0 = performance.now();
    const created: string[] = [];
    try {
      const xml = buildDomainXml({
        ...(await parts(created)),
        name,
        accel: this.cfg.accel,
        kernel: this.cfg.kernel,
        initrd: this.cfg.initrd,
        cmdline: this.cfg.cmdline,
        consoleLog: join(this.cfg.consoleDir, `${name}.log`),
        pool: this.cfg.pool,
        owner: { marker: ownershipMarker, runId: this.ctx.runId, createdAt: new Date().toISOString() },
        ownedVolumes: [`${name}-`],
      });
      await this.withTempFile(xml, (p) => this.virsh.run(['define', p]));
      const id = (await this.virsh.run(['domuuid', name])).trim();
      const ms = performance.now() - t0;
      return { result: { id, name }, handle: noHandle, acceptedMs: ms, doneMs: ms };
    } catch (e) {
      // A failed create leaves nothing half-made (OBS-03).
      for (const v of created) await this.deleteVolumeByName(v).catch(() => undefined);
      throw e;
    }
  }

  async create(spec: VmSpec): Promise<Receipt<VmRef>> {
    this.checkPlacement(spec.placement);
    return this.defineOwned(spec.name, async (created) => {
      const backing = await this.imagePath(spec.image);
      const prefix = `${spec.name}-`;
      const disks = [
        {
          volume: await this.createVolume(`${prefix}boot`, spec.bootDiskBytes ?? this.cfg.bootDiskBytes, backing),
          target: 'vda',
          serial: 'boot',
          format: 'qcow2',
        },
      ];
      created.push(`${prefix}boot`);
      for (const [i, d] of spec.disks.entries()) {
        const volume = d.volumeId
          ? (d.volumeId.split('/').pop() as string)
          : await this.createVolume(`${prefix}${d.name}`, d.sizeBytes);
        if (!d.volumeId) created.push(volume);
        const format = d.volumeId ? await this.volumeFormat(volume) : this.dataFormat;
        disks.push({ volume, target: targetFor(i + 1), serial: d.serial ?? d.name, format });
      }
      if (spec.userData !== undefined) {
        const seed = await this.createSeed(`${prefix}cidata`, spec.name, spec.userData);
        created.push(seed);
        disks.push({ volume: seed, target: 'vdz', serial: 'cidata', format: 'raw' });
      }
      return {
        vcpus: spec.vcpus,
        memoryMiB: spec.memoryMiB,
        disks,
        nics: spec.nics.map((n) => ({ ...n, mac: (n.mac ?? mac()).toLowerCase() })),
        metadata: spec.metadata,
        ...(spec.placement ? { placement: spec.placement } : {}),
        ...(spec.firmware ? { firmware: spec.firmware } : {}),
      };
    });
  }

  private async state(vm: VmRef) {
    return mapDomState(await this.virsh.run(['domstate', vm.id]));
  }

  private async awaitPower(vm: VmRef, want: VmState['power'], op: WaitOperation): Promise<number> {
    let last = '';
    const { waitedMs } = await waitFor(
      `${vm.name} to be ${want}`,
      this.policy(op),
      async () => {
        const s = await this.state(vm);
        last = s.raw;
        return s.power === want ? true : undefined;
      },
      { describeLast: () => last },
    );
    return waitedMs;
  }

  private async transition(
    vm: VmRef,
    args: string[],
    want: VmState['power'] | null,
    op: WaitOperation,
  ): Promise<Receipt> {
    const t0 = performance.now();
    await this.virsh.run(args);
    const acceptedMs = performance.now() - t0;
    if (want) await this.awaitPower(vm, want, op);
    return { result: undefined, handle: noHandle, acceptedMs, doneMs: performance.now() - t0 };
  }

  start(vm: VmRef): Promise<Receipt> {
    return this.transition(vm, ['start', vm.id], 'running', 'start');
  }

  stop(vm: VmRef, opts: StopOptions): Promise<Receipt> {
    return opts.force
      ? this.transition(vm, ['destroy', vm.id], 'stopped', 'stop-forced')
      : this.transition(vm, ['shutdown', vm.id, '--mode', 'acpi'], 'stopped', 'stop-graceful');
  }

  /** ACPI reboot: libvirt's QEMU driver turns the guest's shutdown into a reset of the same domain. */
  reboot(vm: VmRef): Promise<Receipt> {
    return this.transition(vm, ['reboot', vm.id, '--mode', 'acpi'], null, 'reboot');
  }

  private async domain(vm: VmRef) {
    return parseDomainXml(await this.virsh.run(['dumpxml', vm.id]));
  }

  private async ensureOwned(vm: VmRef) {
    const d = await this.domain(vm);
    if (d.config.owner?.marker !== ownershipMarker) {
      throw new NotOwned(`refusing to touch domain '${d.name}' (${vm.id}): it carries no vmconform ownership tag`);
    }
    return d;
  }

  async delete(vm: VmRef): Promise<Receipt> {
    const d = await this.ensureOwned(vm);
    return this.timed(async () => {
      if ((await this.state(vm)).power !== 'stopped') {
        await this.virsh.run(['destroy', vm.id]).catch((e) => (e instanceof Conflict ? undefined : Promise.reject(e)));
      }
      // A UEFI domain's NVRAM file goes with it (libvirt refuses to undefine it otherwise).
      await this.virsh.run(['undefine', vm.id, ...(d.config.firmware === 'uefi' ? ['--nvram'] : [])]);
      // Released with the VM: volumes created for it (named with its creation prefix) still attached.
      const prefixes = d.ownedVolumes;
      for (const disk of d.disksRaw) {
        if (disk.pool === this.cfg.pool && prefixes.some((p) => disk.volume.startsWith(p))) {
          await this.deleteVolumeByName(disk.volume);
        }
      }
      if (d.consoleLog && this.isLocal) await rm(d.consoleLog, { force: true });
      else if (d.consoleLog && this.remoteFiles) await this.remoteFiles.remove(d.consoleLog).catch(() => undefined);
    });
  }

  async rename(vm: VmRef, newName: string): Promise<Receipt<VmRef>> {
    await this.ensureOwned(vm);
    const r = await this.timed(() => this.virsh.run(['domrename', vm.id, newName]));
    return { ...r, result: { id: vm.id, name: newName } };
  }

  async inspect(vm: VmRef): Promise<VmState> {
    const xml = await this.virsh.run(['dumpxml', vm.id]);
    const raw = parseDomainXml(xml);
    const sizes: Record<string, number> = {};
    for (const d of raw.disksRaw) {
      if (!d.pool) continue;
      const v = parseVolumeXml(await this.virsh.run(['vol-dumpxml', d.volume, '--pool', d.pool]));
      sizes[`${d.pool}/${d.volume}`] = v.capacity;
    }
    const parsed = parseDomainXml(xml, sizes);
    const s = await this.state(vm);
    this.hostId ??= parseCapabilities(await this.virsh.run(['capabilities'])).uuid;
    return {
      ref: { id: parsed.uuid, name: parsed.name },
      power: s.power,
      rawState: s.raw,
      // Where the domain is: the host whose daemon holds it and that host's labels, not the requested placement.
      config: {
        ...parsed.config,
        placement: {
          host: this.hostId,
          ...(this.cfg.site ? { site: this.cfg.site } : {}),
          ...(this.cfg.failureDomain ? { failureDomain: this.cfg.failureDomain } : {}),
        },
      },
      source: 'libvirt domain XML (virsh dumpxml) + virsh domstate',
    };
  }

  async list(filter: { owner?: string; metadata?: Record<string, string> }): Promise<VmRef[]> {
    const uuids = await this.lines(['list', '--all', '--uuid']);
    const out: VmRef[] = [];
    for (const id of uuids) {
      const d = await this.domain({ id, name: id }).catch((e) =>
        e instanceof NotFound ? undefined : Promise.reject(e),
      );
      if (!d) continue;
      if (filter.owner !== undefined && d.config.owner?.runId !== filter.owner) continue;
      if (filter.metadata && !Object.entries(filter.metadata).every(([k, v]) => d.config.metadata[k] === v)) continue;
      out.push({ id: d.uuid, name: d.name });
    }
    return out;
  }

  async owned(): Promise<OwnedObject[]> {
    const out: OwnedObject[] = [];
    for (const id of await this.lines(['list', '--all', '--uuid'])) {
      const d = await this.domain({ id, name: id }).catch((e) =>
        e instanceof NotFound ? undefined : Promise.reject(e),
      );
      if (d?.config.owner) out.push({ kind: 'vm', id: d.uuid, name: d.name, runId: d.config.owner.runId });
    }
    // libvirt volumes carry no metadata: ownership is the harness pool plus the vmc-<run id>- name prefix.
    for (const pool of this.ownedPools) {
      await this.virsh.run(['pool-refresh', pool]);
      for (const name of await this.volumeNames(pool)) {
        const runId = ownedVolumeRun(name);
        if (runId) out.push({ kind: 'volume', id: `${pool}/${name}`, name, runId });
      }
    }
    await this.virsh.run(['pool-refresh', this.cfg.imagePool]);
    for (const name of await this.volumeNames(this.cfg.imagePool)) {
      const runId = ownedVolumeRun(name);
      if (runId) out.push({ kind: 'image', id: `${this.cfg.imagePool}/${name}`, name, runId });
    }
    for (const b of await this.backups()) {
      out.push({ kind: 'backup', id: b.id, name: b.id, runId: b.id.split('/', 1)[0] as string });
    }
    return out;
  }

  /** virsh output as trimmed, non-empty lines (name and uuid listings). */
  private async lines(args: string[]): Promise<string[]> {
    return (await this.virsh.run(args))
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
  }

  private async volumeNames(pool: string): Promise<string[]> {
    return (await this.virsh.run(['vol-list', pool]))
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[0])
      .filter((n): n is string => !!n);
  }

  private async deviceFlags(vm: VmRef): Promise<string[]> {
    return (await this.state(vm)).power === 'running' ? ['--config', '--live'] : ['--config'];
  }

  async attachDisk(vm: VmRef, disk: DiskSpec): Promise<Receipt<AttachedDisk>> {
    const d = await this.ensureOwned(vm);
    const t0 = performance.now();
    const target = nextFreeTarget(d.disksRaw.map((x) => x.target));
    const prefix = d.ownedVolumes[0] ?? `${d.name}-`;
    const volume = disk.volumeId
      ? (disk.volumeId.split('/').pop() as string)
      : await this.createVolume(`${prefix}${disk.name}`, disk.sizeBytes);
    const serial = disk.serial ?? disk.name;
    const format = disk.volumeId ? await this.volumeFormat(volume) : this.dataFormat;
    const xml = buildDeviceXml('disk', diskXml({ volume, target, serial, format }, this.cfg.pool));
    try {
      await this.withTempFile(xml, async (p) =>
        this.virsh.run(['attach-device', vm.id, p, ...(await this.deviceFlags(vm))]),
      );
    } catch (e) {
      if (!disk.volumeId) await this.deleteVolumeByName(volume).catch(() => undefined);
      throw e;
    }
    const state = await this.inspect(vm);
    const attached = state.config.disks.find((x) => x.target === target);
    if (!attached) throw new NotFound(`disk ${target} not present in ${vm.name} after attach`);
    const ms = performance.now() - t0;
    return { result: attached, handle: noHandle, acceptedMs: ms, doneMs: ms };
  }

  async detachDisk(vm: VmRef, diskId: string): Promise<Receipt> {
    await this.ensureOwned(vm);
    const t0 = performance.now();
    const flags = await this.deviceFlags(vm);
    await this.virsh.run(['detach-disk', vm.id, diskId, ...flags]);
    const acceptedMs = performance.now() - t0;
    // Live unplug needs the guest's cooperation; wait until the device is really gone.
    await waitFor(`disk ${diskId} to leave ${vm.name}`, this.policy('device'), async () =>
      (await this.domain(vm)).disksRaw.some((x) => x.target === diskId) ? undefined : true,
    );
    return { result: undefined, handle: noHandle, acceptedMs, doneMs: performance.now() - t0 };
  }

  async resizeDisk(vm: VmRef, diskId: string, sizeBytes: number): Promise<Receipt> {
    const d = await this.ensureOwned(vm);
    const disk = d.disksRaw.find((x) => x.target === diskId);
    if (!disk) throw new NotFound(`${vm.name} has no disk ${diskId}`);
    const running = (await this.state(vm)).power === 'running';
    return this.timed(async () => {
      if (running) await this.virsh.run(['blockresize', vm.id, diskId, `${sizeBytes}B`]);
      else await this.virsh.run(['vol-resize', disk.volume, `${sizeBytes}B`, '--pool', disk.pool]);
    });
  }

  async volumes(): Promise<Volume[]> {
    const attached = new Map<string, string[]>();
    for (const ref of await this.list({})) {
      const d = await this.domain(ref).catch(() => undefined);
      for (const disk of d?.disksRaw ?? []) {
        const id = `${disk.pool}/${disk.volume}`;
        attached.set(id, [...(attached.get(id) ?? []), ref.id]);
      }
    }
    const out: Volume[] = [];
    for (const pool of new Set([this.cfg.pool, this.cfg.imagePool])) {
      await this.virsh.run(['pool-refresh', pool]);
      const names = await this.volumeNames(pool);
      for (const name of names) {
        const xml = await this.volumeXml(pool, name);
        if (xml) out.push(toVolume(pool, parseVolumeXml(xml), attached.get(`${pool}/${name}`) ?? []));
      }
    }
    return out;
  }

  /** A volume's XML, or undefined when it went away after it was listed (the pool is shared). */
  private async volumeXml(pool: string, name: string): Promise<string | undefined> {
    return this.virsh
      .run(['vol-dumpxml', name, '--pool', pool])
      .catch((e) => (e instanceof NotFound ? undefined : Promise.reject(e)));
  }

  async deleteVolume(volumeId: string): Promise<Receipt> {
    const [pool, name] = volumeId.split('/', 2) as [string, string];
    // libvirt volumes have no metadata: ownership is the harness's own pool plus a vmc-<run id>- name prefix.
    if (!this.ownedPools.includes(pool) || !ownedVolumeRun(name)) {
      throw new NotOwned(
        `refusing to delete volume '${volumeId}': not in pool ${this.ownedPools.map((p) => `'${p}'`).join(' or ')} with a vmc-<run id>- name`,
      );
    }
    // Never pull a volume out from under a VM: libvirt's vol-delete does not check.
    const users = (await this.volumes()).find((v) => v.id === volumeId)?.attachedTo ?? [];
    if (users.length > 0) throw new Conflict(`volume '${volumeId}' is attached to ${users.join(', ')}`);
    return this.timed(() => this.deleteVolumeByName(name));
  }

  async storagePools(): Promise<StoragePool[]> {
    const names = await this.lines(['pool-list', '--all', '--name']);
    const out: StoragePool[] = [];
    for (const name of names) {
      const info = await this.virsh.run(['pool-info', name]);
      out.push({
        ...parsePoolXml(await this.virsh.run(['pool-dumpxml', name])),
        active: /State:\s+running/.test(info),
      });
    }
    return out;
  }

  async metrics(vm: VmRef): Promise<VmMetrics> {
    const records = parseDomStatsRecords(
      await this.virsh.run(['domstats', vm.id, '--cpu-total', '--balloon', '--block', '--interface']),
    );
    const r = [...records.values()][0];
    if (!r) throw new NotFound(`no statistics for ${vm.name}`);
    return toVmMetrics(r);
  }

  async hostMetrics(): Promise<HostMetrics> {
    const mem = await this.virsh.run(['nodememstats']);
    return {
      cpuTimeNs: parseNodeCpuStats(await this.virsh.run(['nodecpustats'])),
      memoryTotalBytes: parseNodeMemTotal(mem),
      memoryFreeBytes: Number(/^free\s*:\s*(\d+) KiB/m.exec(mem)?.[1] ?? 0) * 1024,
    };
  }

  async attachNic(vm: VmRef, nic: NicSpec): Promise<Receipt<AttachedNic>> {
    await this.ensureOwned(vm);
    const address = (nic.mac ?? mac()).toLowerCase();
    const t0 = performance.now();
    const xml = buildDeviceXml('interface', nicXml({ ...nic, mac: address }));
    await this.withTempFile(xml, async (p) =>
      this.virsh.run(['attach-device', vm.id, p, ...(await this.deviceFlags(vm))]),
    );
    const found = (await this.inspect(vm)).config.nics.find((n) => n.mac === address);
    if (!found) throw new NotFound(`NIC ${address} not present in ${vm.name} after attach`);
    const ms = performance.now() - t0;
    return { result: found, handle: noHandle, acceptedMs: ms, doneMs: ms };
  }

  async detachNic(vm: VmRef, address: string): Promise<Receipt> {
    const d = await this.ensureOwned(vm);
    const nic = d.config.nics.find((n) => n.mac === address.toLowerCase());
    if (!nic) throw new NotFound(`${vm.name} has no NIC with MAC ${address}`);
    const t0 = performance.now();
    await this.virsh.run([
      'detach-interface',
      vm.id,
      nic.external ? 'bridge' : 'network',
      '--mac',
      nic.mac,
      ...(await this.deviceFlags(vm)),
    ]);
    const acceptedMs = performance.now() - t0;
    await waitFor(`NIC ${address} to leave ${vm.name}`, this.policy('device'), async () =>
      (await this.domain(vm)).config.nics.some((n) => n.mac === nic.mac) ? undefined : true,
    );
    return { result: undefined, handle: noHandle, acceptedMs, doneMs: performance.now() - t0 };
  }

  async networks(): Promise<Network[]> {
    const names = await this.lines(['net-list', '--all', '--name']);
    const out: Network[] = [];
    for (const name of names) {
      const xml = await this.virsh.run(['net-dumpxml', name]);
      const info = await this.virsh.run(['net-info', name]);
      out.push({
        name,
        kind: 'platform',
        bridge: /<bridge name='([^']+)'/.exec(xml)?.[1] ?? '',
        active: /Active:\s+yes/.test(info),
      });
    }
    return out;
  }

  async images(): Promise<Image[]> {
    await this.virsh.run(['pool-refresh', this.cfg.imagePool]);
    const names = await this.volumeNames(this.cfg.imagePool);
    const out: Image[] = [];
    for (const vol of names) {
      const xml = await this.volumeXml(this.cfg.imagePool, vol);
      if (!xml) continue;
      const v = parseVolumeXml(xml);
      const { name, version } = parseImageVolumeName(vol);
      // libvirt stores no image checksum: none is reported rather than one computed by the harness.
      out.push({
        id: `${this.cfg.imagePool}/${vol}`,
        name,
        ...(version ? { version } : {}),
        format: v.format,
        sizeBytes: v.capacity,
      });
    }
    return out;
  }

  /** Names the harness may create: `vmc-<this run>-...`, so ownership can be read back from the name. */
  private requireRunPrefix(field: string, name: string): void {
    if (ownedVolumeRun(name) !== this.ctx.runId)
      throw new ConfigInvalid(`${field} '${name}': expected a name starting with vmc-${this.ctx.runId}-`);
  }

  private async volumeExists(pool: string, name: string): Promise<boolean> {
    return this.virsh.run(['vol-info', name, '--pool', pool]).then(
      () => true,
      (e) => (e instanceof NotFound ? false : Promise.reject(e)),
    );
  }

  /** Creates a raw volume holding exactly the file's content (converted locally when it is qcow2). */
  private async uploadAsRaw(pool: string, name: string, src: { path: string; format: string }): Promise<number> {
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

  async importImage(src: ImageSource): Promise<Receipt<Image>> {
    this.requireRunPrefix('image name', src.name);
    const vol = imageVolumeName(src.name, src.version);
    if (!/^[0-9a-f]{64}$/.test(src.sha256)) throw new ConfigInvalid(`sha256: expected 64 hex digits`);
    const local = await sha256File(src.path);
    if (local !== src.sha256)
      throw new ConfigInvalid(`sha256: ${src.path} hashes to ${local}, not the declared ${src.sha256}`);
    // Published versions are never written again: that is the adapter's rule, libvirt would overwrite.
    if (await this.volumeExists(this.cfg.imagePool, vol))
      throw new Conflict(
        `image ${src.name} version ${src.version} is already published as ${this.cfg.imagePool}/${vol}; versions are immutable (publish a new version)`,
      );
    return this.timed(async () => {
      await this.uploadAsRaw(this.cfg.imagePool, vol, src);
      // What the platform holds now, read back through the API, must be what was declared. A qcow2
      // source was converted to raw on the way, so only a raw source's sha256 can be compared.
      if (src.format === 'raw') {
        const back = await this.withTempDir(async (dir) => {
          const f = join(dir, 'check.raw');
          await this.virsh.run(['vol-download', vol, f, '--pool', this.cfg.imagePool]);
          return sha256File(f);
        });
        if (back !== src.sha256) {
          await this.virsh.run(['vol-delete', vol, '--pool', this.cfg.imagePool]).catch(() => undefined);
          throw new PlatformError(`uploaded image reads back as ${back}, not ${src.sha256}`, 'checksum-mismatch', back);
        }
      }
      const image = (await this.images()).find((i) => i.id === `${this.cfg.imagePool}/${vol}`);
      if (!image) throw new NotFound(`image ${vol} not listed after upload`);
      return image;
    });
  }

  async deleteImage(id: string): Promise<Receipt> {
    const [pool, vol] = id.split('/', 2) as [string, string];
    if (pool !== this.cfg.imagePool || !ownedVolumeRun(vol ?? ''))
      throw new NotOwned(
        `refusing to delete image '${id}': not in pool '${this.cfg.imagePool}' with a vmc-<run id>- name`,
      );
    const path = (await this.virsh.run(['vol-path', vol, '--pool', pool])).trim();
    // A copy-on-write child would lose its base: refuse while any volume is backed by it.
    const children = (await this.volumes()).filter((v) => v.backing === path).map((v) => v.id);
    if (children.length > 0) throw new Conflict(`image '${id}' is the base of ${children.join(', ')}`);
    return this.timed(async () => void (await this.virsh.run(['vol-delete', vol, '--pool', pool])));
  }

  private async withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
    const dir = await mkdtemp(join(tmpdir(), 'vmconform-disk-'));
    try {
      return await fn(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * Downloads a volume through the API into `dir`; a copy-on-write overlay brings its backing chain
   * along and is re-pointed at the local copies, so the result is usable off this host.
   */
  private async download(pool: string, name: string, dir: string): Promise<{ path: string; format: string }> {
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

  async exportVolume(
    volumeId: string,
    dest: { path: string; format: VolumeFile['format'] },
  ): Promise<Receipt<VolumeFile>> {
    const [pool, name] = volumeId.split('/', 2) as [string, string];
    if (!name) throw new ConfigInvalid(`volumeId '${volumeId}': expected <pool>/<volume>`);
    return this.timed(() =>
      this.withTempDir(async (dir) => {
        const got = await this.download(pool, name, dir);
        await this.qemuImg.convert(got.path, got.format, dest.path, dest.format);
        return { path: dest.path, format: dest.format, sizeBytes: (await this.qemuImg.info(dest.path)).virtualBytes };
      }),
    );
  }

  async importVolume(name: string, src: VolumeFile): Promise<Receipt<Volume>> {
    this.requireRunPrefix('volume name', name);
    if (await this.volumeExists(this.cfg.pool, name)) throw new Conflict(`volume ${this.cfg.pool}/${name} exists`);
    const actual = (await this.qemuImg.info(src.path)).format;
    if (actual !== src.format)
      throw new ConfigInvalid(`format: ${src.path} is ${actual}, not the declared ${src.format}`);
    return this.timed(async () => {
      await this.uploadAsRaw(this.cfg.pool, name, src);
      const v = parseVolumeXml(await this.virsh.run(['vol-dumpxml', name, '--pool', this.cfg.pool]));
      return toVolume(this.cfg.pool, v, []);
    });
  }

  private get backupRoot(): string {
    return this.cfg.backupDir ?? defaultBackupDir;
  }

  /**
   * A portable backup of a stopped VM: every disk downloaded and flattened to qcow2, the domain XML,
   * and a manifest, in a directory of this run under the harness's backup folder.
   */
  async backup(vm: VmRef): Promise<Receipt<Backup>> {
    const d = await this.ensureOwned(vm);
    if ((await this.state(vm)).power !== 'stopped')
      throw new Conflict(
        `${vm.name} is running: this adapter backs up stopped VMs (consistent disks without an agent)`,
      );
    const at = new Date();
    const id = backupId(this.ctx.runId, d.name, at);
    const dir = join(this.backupRoot, id);
    return this.timed(async () => {
      await mkdir(dir, { recursive: true });
      try {
        const state = await this.inspect(vm);
        const disks: BackupDisk[] = [];
        for (const disk of state.config.disks) {
          const [pool, name] = disk.volumeId.split('/', 2) as [string, string];
          const file = `${disk.target}.qcow2`;
          await this.withTempDir(async (tmp) => {
            const got = await this.download(pool, name, tmp);
            await this.qemuImg.convert(got.path, got.format, join(dir, file), 'qcow2');
          });
          disks.push({
            target: disk.target,
            serial: disk.serial,
            role: disk.role,
            file,
            format: 'qcow2',
            virtualBytes: (await this.qemuImg.info(join(dir, file))).virtualBytes,
            sha256: await sha256File(join(dir, file)),
          });
        }
        await writeFile(join(dir, 'domain.xml'), await this.virsh.run(['dumpxml', '--inactive', vm.id]));
        const hostId = parseCapabilities(await this.virsh.run(['capabilities'])).uuid;
        const manifest: BackupManifest = {
          schema: backupSchema,
          id,
          runId: this.ctx.runId,
          createdAt: at.toISOString(),
          source: { uri: this.cfg.uri, hostId },
          vm: { id: d.uuid, name: d.name },
          config: state.config,
          domainXmlFile: 'domain.xml',
          disks,
        };
        await writeFile(join(dir, manifestFile), JSON.stringify(manifest, null, 2));
        return toBackup(manifest, dir);
      } catch (e) {
        await rm(dir, { recursive: true, force: true });
        await rmdir(join(this.backupRoot, this.ctx.runId)).catch(() => undefined);
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
    this.requireRunPrefix('restore name', opts.name);
    this.checkPlacement(opts.placement);
    const m = await this.readManifest(backup.location);
    const uuidFree = await this.virsh.run(['domname', m.vm.id]).then(
      () => false,
      (e) => (e instanceof NotFound ? true : Promise.reject(e)),
    );
    return this.defineOwned(opts.name, async (created) => {
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
        await this.uploadAsRaw(this.cfg.pool, volume, { path: file, format: disk.format });
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
    return this.timed(async () => {
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

  /** Day-2 CPU and memory change of a stopped VM, written to its persistent definition. */
  async reconfigure(vm: VmRef, change: Resize): Promise<Receipt> {
    const d = await this.ensureOwned(vm);
    if ((await this.state(vm)).power !== 'stopped')
      throw new Conflict(`${vm.name} must be stopped to change CPU or memory`);
    return this.timed(async () => {
      if (change.vcpus !== undefined) {
        const n = String(change.vcpus);
        // The maximum bounds the current count: raise it first, or lower the current count first.
        const order = change.vcpus >= d.config.vcpus ? [['--maximum'], []] : [[], ['--maximum']];
        for (const extra of order) await this.virsh.run(['setvcpus', vm.id, n, '--config', ...extra]);
      }
      if (change.memoryMiB !== undefined) {
        const kib = String(change.memoryMiB * 1024);
        await this.virsh.run(['setmaxmem', vm.id, kib, '--config']);
        await this.virsh.run(['setmem', vm.id, kib, '--config']);
      }
    });
  }

  async consoleLog(_vm: VmRef): Promise<string> {
    throw new Unsupported(
      "libvirt's API serves no console or task log history: the serial log is a file virtlogd writes on the host, outside the API; virDomainOpenConsole streams only what the guest prints after the connection is made (virsh console without a TTY refuses with 'Cannot run interactive console without a controlling TTY'; under a pseudo-terminal it works but shows only new output); virsh domjobinfo covers only migration, save and dump jobs",
    );
  }

  async *events(signal: AbortSignal): AsyncIterable<PlatformEvent> {
    const proc = execa('virsh', ['-c', this.cfg.uri, 'event', '--all', '--loop', '--timestamp'], {
      stdin: 'ignore',
      cancelSignal: signal,
      reject: false,
      env: { LC_ALL: 'C' },
      forceKillAfterDelay: 2_000,
    });
    try {
      for await (const line of proc.iterable({ from: 'stdout' })) {
        const ev = parseEventLine(String(line), Date.now());
        if (ev) yield ev;
      }
    } finally {
      proc.kill();
    }
  }

  async task(_handle: TaskHandle): Promise<TaskInfo> {
    throw new Unsupported(
      'libvirt returns no task or operation id for lifecycle calls (they are synchronous); virsh domjobinfo covers only migration, save and dump jobs',
    );
  }

  guest(vm: VmRef): GuestProbe {
    const remote = this.remoteFiles;
    if (!this.isLocal && !remote) {
      throw new Unsupported(
        `reading the guest console of a remote libvirt host (${this.cfg.uri}) needs an ssh section (user, privateKey, knownHosts) in the lab config`,
        'adapter',
      );
    }
    // The log path comes from the domain XML: it keeps the creation name across renames. The harness
    // never edits a domain's console, so the path is read once per probe: a readiness poll every 100 ms
    // otherwise spawns a virsh dumpxml each time (25 per boot, most of the harness's CPU under TCG).
    let logPath: string | undefined;
    return {
      kind: 'serial-console',
      read: async () => {
        logPath ??= (await this.domain(vm)).consoleLog;
        const path = logPath;
        if (!path) throw new NotFound(`${vm.name} has no serial console log configured`);
        const text = remote ? await remote.read(path) : await readFile(path, 'utf8').catch(() => '');
        return parseConsole(text);
      },
    };
  }

  async close(): Promise<void> {
    await this.remoteFiles?.close();
  }
}
