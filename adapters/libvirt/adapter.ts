import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Transcript } from '../../reports/transcript.js';
import {
  type AttachedDisk,
  type AttachedNic,
  type Backup,
  type Capabilities,
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
  type PlatformEvent,
  type PlatformInfo,
  type Receipt,
  type Resize,
  type RestoreOptions,
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
} from '../driver.js';
import { parseConsole } from '../guest/console.js';
import { defaultWaitPolicies, type WaitOperation, type WaitPolicy, waitFor } from '../wait.js';
import { Virsh } from './client.js';
import {
  buildDeviceXml,
  buildDomainXml,
  diskXml,
  mapDomState,
  nextFreeTarget,
  nicXml,
  ownedVolumeRun,
  parseCapabilities,
  parseDomainXml,
  parseDomStats,
  parseDomStatsRecords,
  parseEventLine,
  parseNodeCpuStats,
  parseNodeMemTotal,
  parsePoolXml,
  parseVersion,
  parseVolumeXml,
  targetFor,
  toVmMetrics,
  toVolume,
} from './mapping.js';

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
  /**
   * 'full' creates data volumes raw with their whole size allocated, as a thick pool (LVM) does; the
   * default 'thin' is sparse qcow2. The storage-full fault (OPS-01) needs space taken at create time.
   */
  allocation?: 'thin' | 'full';
  /** Further pools the harness owns vmc-<run id>- volumes in (the lab's small pool), so leak checks and sweep see them. */
  ownedPools?: string[];
}

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

  constructor(
    private readonly cfg: LibvirtConfig,
    private readonly ctx: DriverContext,
  ) {
    this.virsh = new Virsh({
      uri: cfg.uri,
      transcript: ctx.transcript,
      ...(cfg.uid === undefined ? {} : { uid: cfg.uid }),
    });
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

  private async createVolume(name: string, sizeBytes: number, backing?: string): Promise<string> {
    const format = backing ? 'qcow2' : this.dataFormat;
    const args = ['vol-create-as', this.cfg.pool, name, `${sizeBytes}B`, '--format', format];
    if (backing) args.push('--backing-vol', backing, '--backing-vol-format', 'raw');
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

  private async imagePath(image: string): Promise<string> {
    const [pool, vol] = image.includes('/') ? image.split('/', 2) : [this.cfg.imagePool, image];
    return (await this.virsh.run(['vol-path', vol as string, '--pool', pool as string])).trim();
  }

  async create(spec: VmSpec): Promise<Receipt<VmRef>> {
    const exists = await this.virsh.run(['domuuid', spec.name]).then(
      () => true,
      (e) => (e instanceof NotFound ? false : Promise.reject(e)),
    );
    // define with an existing name would silently rewrite that domain, whoever owns it.
    if (exists) throw new Conflict(`a domain named '${spec.name}' already exists`);
    const t0 = performance.now();
    const created: string[] = [];
    try {
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
        disks.push({ volume, target: targetFor(i + 1), serial: d.serial ?? d.name, format: this.dataFormat });
      }
      if (spec.userData !== undefined) {
        const seed = await this.createSeed(`${prefix}cidata`, spec.name, spec.userData);
        created.push(seed);
        disks.push({ volume: seed, target: 'vdz', serial: 'cidata', format: 'raw' });
      }
      const xml = buildDomainXml({
        name: spec.name,
        vcpus: spec.vcpus,
        memoryMiB: spec.memoryMiB,
        accel: this.cfg.accel,
        kernel: this.cfg.kernel,
        initrd: this.cfg.initrd,
        cmdline: this.cfg.cmdline,
        consoleLog: join(this.cfg.consoleDir, `${spec.name}.log`),
        pool: this.cfg.pool,
        disks,
        nics: spec.nics.map((n) => ({ ...n, mac: (n.mac ?? mac()).toLowerCase() })),
        owner: { marker: ownershipMarker, runId: this.ctx.runId, createdAt: new Date().toISOString() },
        metadata: spec.metadata,
        ...(spec.placement ? { placement: spec.placement } : {}),
        ownedVolumes: [prefix],
      });
      await this.withTempFile(xml, (p) => this.virsh.run(['define', p]));
      const id = (await this.virsh.run(['domuuid', spec.name])).trim();
      const ms = performance.now() - t0;
      return { result: { id, name: spec.name }, handle: noHandle, acceptedMs: ms, doneMs: ms };
    } catch (e) {
      // A failed create leaves nothing half-made (OBS-03).
      for (const v of created) await this.deleteVolumeByName(v).catch(() => undefined);
      throw e;
    }
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
      await this.virsh.run(['undefine', vm.id]);
      // Released with the VM: volumes created for it (named with its creation prefix) still attached.
      const prefixes = d.ownedVolumes;
      for (const disk of d.disksRaw) {
        if (disk.pool === this.cfg.pool && prefixes.some((p) => disk.volume.startsWith(p))) {
          await this.deleteVolumeByName(disk.volume);
        }
      }
      if (d.consoleLog && this.isLocal) await rm(d.consoleLog, { force: true });
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
    return {
      ref: { id: parsed.uuid, name: parsed.name },
      power: s.power,
      rawState: s.raw,
      config: parsed.config,
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
    const xml = buildDeviceXml('disk', diskXml({ volume, target, serial, format: this.dataFormat }, this.cfg.pool));
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
        const v = parseVolumeXml(await this.virsh.run(['vol-dumpxml', name, '--pool', pool]));
        out.push(toVolume(pool, v, attached.get(`${pool}/${name}`) ?? []));
      }
    }
    return out;
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
    const names = await this.volumeNames(this.cfg.imagePool);
    const out: Image[] = [];
    for (const name of names) {
      const v = parseVolumeXml(await this.virsh.run(['vol-dumpxml', name, '--pool', this.cfg.imagePool]));
      // libvirt stores no image checksum: none is reported rather than one computed by the harness.
      out.push({ id: `${this.cfg.imagePool}/${name}`, name, format: v.format, sizeBytes: v.capacity });
    }
    return out;
  }

  async importImage(_src: ImageSource): Promise<Receipt<Image>> {
    throw new Unsupported('image import is not implemented in the libvirt adapter yet', 'adapter');
  }

  async deleteImage(_id: string): Promise<Receipt> {
    throw new Unsupported('image delete is not implemented in the libvirt adapter yet', 'adapter');
  }

  async backup(_vm: VmRef): Promise<Receipt<Backup>> {
    throw new Unsupported('backup is not implemented in the libvirt adapter yet', 'adapter');
  }

  async restore(_backup: Backup, _opts: RestoreOptions): Promise<Receipt<VmRef>> {
    throw new Unsupported('restore is not implemented in the libvirt adapter yet', 'adapter');
  }

  async deleteBackup(_id: string): Promise<Receipt> {
    throw new Unsupported('backup delete is not implemented in the libvirt adapter yet', 'adapter');
  }

  async backups(): Promise<Backup[]> {
    return [];
  }

  async exportVolume(
    _volumeId: string,
    _dest: { path: string; format: VolumeFile['format'] },
  ): Promise<Receipt<VolumeFile>> {
    throw new Unsupported('volume export is not implemented in the libvirt adapter yet', 'adapter');
  }

  async importVolume(_name: string, _src: VolumeFile): Promise<Receipt<Volume>> {
    throw new Unsupported('volume import is not implemented in the libvirt adapter yet', 'adapter');
  }

  async reconfigure(_vm: VmRef, _change: Resize): Promise<Receipt> {
    throw new Unsupported('reconfigure is not implemented in the libvirt adapter yet', 'adapter');
  }

  async consoleLog(_vm: VmRef): Promise<string> {
    throw new Unsupported('console log through the API is not implemented in the libvirt adapter yet', 'adapter');
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
    if (!this.isLocal) {
      throw new Unsupported(
        `reading the guest console of a remote libvirt host (${this.cfg.uri}) is not implemented yet`,
        'adapter',
      );
    }
    return {
      kind: 'serial-console',
      // The log path comes from the domain XML: it keeps the creation name across renames.
      read: async () => {
        const path = (await this.domain(vm)).consoleLog;
        if (!path) throw new NotFound(`${vm.name} has no serial console log configured`);
        return parseConsole(await readFile(path, 'utf8').catch(() => ''));
      },
    };
  }

  async close(): Promise<void> {}
}
