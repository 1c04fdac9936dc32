import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Transcript } from '../../evidence/transcript.js';
import { parseConsole } from '../../host/guest/report.js';
import { defaultWaitPolicies, type WaitOperation, type WaitPolicy, waitFor } from '../../host/wait.js';
import {
  type AttachedDisk,
  type AttachedNic,
  AuthFailed,
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
  PrereqMissing,
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
} from '../contract/index.js';
import type { TlsOptions } from '../http/client.js';
import { type AsyncResult, IncusClient } from './client.js';
import {
  capacityFrom,
  diskDevice,
  type IncusDevice,
  type IncusInstance,
  type IncusOperation,
  type IncusResources,
  keys,
  metricValues,
  nextFreeTarget,
  nicDevice,
  nicName,
  operationIdOf,
  ownerOf,
  ownershipConfig,
  parseEvent,
  parseInstance,
  parseSize,
  toTaskInfo,
  volumeId,
} from './mapping.js';

export interface IncusConfig {
  socketPath?: string;
  url?: string;
  tls?: TlsOptions;
  project: string;
  pool: string;
  /** The instance type this run creates: VMs by default; containers where the lab cannot start VMs. */
  instanceType: 'virtual-machine' | 'container';
  /** Why VMs cannot run here (Incus's own error), when the run falls back to containers. */
  vmUnavailable?: string;
  site?: string;
  failureDomain?: string;
  prereqMissing: Capabilities['prereqMissing'];
  waits?: Partial<Record<WaitOperation, WaitPolicy>>;
  /** Why the pool does not apply volume sizes (measured by the lab): a resize there proves nothing. */
  sizesNotEnforced?: string;
  /** Direct kernel boot for VMs from the lab's kernel and initramfs (raw.qemu), as the libvirt lab does. */
  kernel?: string;
  initrd?: string;
}

export interface DriverContext {
  runId: string;
  transcript: Transcript;
}

/** Where the container guest keeps its protocol log (adapters/incus/lab/container-init) and its NoCloud-like seed. */
const guestLog = '/var/log/vmc/console.log';
/** The same boot disk size the libvirt lab declares; on a dir pool Incus records it without a quota. */
const defaultBootDiskBytes = 64 * 1024 * 1024;
const seedDir = '/etc/vmc/seed';

const randomMac = () =>
  `52:54:00:${Array.from(randomBytes(3))
    .map((b) => b.toString(16).padStart(2, '0'))
    .join(':')}`;

const handleOf = (r: AsyncResult): TaskHandle =>
  r.id
    ? { kind: 'operation', id: r.id }
    : { kind: 'none', id: null, note: 'Incus answered this call synchronously, without an operation' };
const receipt = <T>(r: AsyncResult, result: T): Receipt<T> => ({
  result,
  handle: handleOf(r),
  acceptedMs: r.acceptedMs,
  doneMs: r.doneMs,
});
const enc = encodeURIComponent;

export class IncusDriver implements Driver {
  readonly platform = 'incus' as const;
  readonly client: IncusClient;
  /** uuid -> current name: Incus addresses instances by name, the contract by durable id. */
  private readonly names = new Map<string, string>();

  constructor(
    private readonly cfg: IncusConfig,
    private readonly ctx: DriverContext,
  ) {
    this.client = new IncusClient({
      ...(cfg.socketPath ? { socketPath: cfg.socketPath } : {}),
      ...(cfg.url ? { url: cfg.url } : {}),
      ...(cfg.tls ? { tls: cfg.tls } : {}),
      project: cfg.project,
      transcript: ctx.transcript,
    });
  }

  private policy(op: WaitOperation): WaitPolicy {
    return this.cfg.waits?.[op] ?? defaultWaitPolicies[op];
  }

  private get isContainer(): boolean {
    return this.cfg.instanceType === 'container';
  }

  async capabilities(): Promise<Capabilities> {
    const prereq = { ...this.cfg.prereqMissing };
    if (this.isContainer && this.cfg.vmUnavailable) prereq['vm-instances'] = this.cfg.vmUnavailable;
    if (this.cfg.sizesNotEnforced) prereq['disk-size'] = this.cfg.sizesNotEnforced;
    return {
      instanceType: this.isContainer ? 'container' : 'vm',
      evidence: this.isContainer ? 'container-only' : 'real',
      hotplugDisk: true,
      hotplugNic: true,
      // Custom volumes grow through their `size` key; a dir pool only records it (no quota), so offline only.
      resizeDisk: 'offline',
      rename: 'stopped-only',
      taskHandles: true,
      events: 'push',
      guestView: this.isContainer ? 'exec' : 'serial-console',
      metadataFilter: 'platform',
      externalBridge: true,
      // A single server evacuates by stopping; a cluster member evacuates with live (VM) or cold migration.
      hostMaintenance: (await this.clustered()) ? 'evacuate-cold' : 'stop-only',
      prereqMissing: prereq,
    };
  }

  private serverInfo?: Promise<{
    api_version: string;
    environment: {
      server_version: string;
      server_name: string;
      server_clustered: boolean;
      driver?: string;
      driver_version?: string;
    };
  }>;

  /** GET /1.0 answers untrusted clients too, with auth 'untrusted' and no environment: that is Incus's auth verdict. */
  private server() {
    this.serverInfo ??= this.client
      .sync<{ auth?: string; environment?: unknown }>('GET', '/1.0', {}, false)
      .then((s) => {
        if (s.auth === 'untrusted' || !s.environment)
          throw new AuthFailed(
            `incus: ${this.cfg.url ?? this.cfg.socketPath} reports this client as ${s.auth ?? 'not trusted'} (its certificate is not in the trust store)`,
          );
        return s as never;
      });
    return this.serverInfo;
  }

  private async clustered(): Promise<boolean> {
    return (await this.server()).environment.server_clustered;
  }

  async platformInfo(): Promise<PlatformInfo> {
    const s = await this.server();
    return {
      platform: 'incus',
      product: 'Incus',
      version: s.environment.server_version,
      apiVersion: s.api_version,
      ...(s.environment.driver
        ? { hypervisor: `${s.environment.driver} ${s.environment.driver_version ?? ''}`.trim() }
        : {}),
      accel: this.isContainer ? 'container' : 'kvm',
      endpoint: this.cfg.socketPath ?? this.cfg.url ?? '',
    };
  }

  private async instances(): Promise<IncusInstance[]> {
    return this.client.sync<IncusInstance[]>('GET', '/1.0/instances', { query: { recursion: 1 } });
  }

  async hosts(): Promise<Host[]> {
    const s = await this.server();
    const pool = await this.poolResources();
    // Allocation counts what runs: a stopped instance holds no CPU or memory.
    const all = (await this.instances()).filter((i) => i.status === 'Running');
    const allocated = {
      cpus: all.reduce((a, i) => a + Number(i.config['limits.cpu'] ?? 0), 0),
      memoryBytes: all.reduce((a, i) => a + parseSize(i.config['limits.memory']), 0),
      storageBytes: pool.used,
    };
    const place = {
      ...(this.cfg.site ? { site: this.cfg.site } : {}),
      ...(this.cfg.failureDomain ? { failureDomain: this.cfg.failureDomain } : {}),
    };
    if (!s.environment.server_clustered) {
      const r = await this.client.sync<IncusResources>('GET', '/1.0/resources', {}, false);
      return [
        {
          id: s.environment.server_name,
          name: s.environment.server_name,
          ...place,
          capacity: capacityFrom(r, pool.total),
          allocated,
        },
      ];
    }
    const members = await this.client.sync<
      { server_name: string; failure_domain?: string; config?: Record<string, string> }[]
    >('GET', '/1.0/cluster/members', { query: { recursion: 1 } }, false);
    const out: Host[] = [];
    for (const m of members) {
      const r = await this.client.sync<IncusResources>(
        'GET',
        '/1.0/resources',
        { query: { target: m.server_name } },
        false,
      );
      const mine = all.filter((i) => i.location === m.server_name);
      out.push({
        id: m.server_name,
        name: m.server_name,
        ...place,
        ...(m.failure_domain ? { failureDomain: m.failure_domain } : {}),
        capacity: capacityFrom(r),
        allocated: {
          cpus: mine.reduce((a, i) => a + Number(i.config['limits.cpu'] ?? 0), 0),
          memoryBytes: mine.reduce((a, i) => a + parseSize(i.config['limits.memory']), 0),
        },
      });
    }
    return out;
  }

  private async poolResources(): Promise<{ total: number; used: number }> {
    const r = await this.client.sync<{ space?: { total?: number; used?: number } }>(
      'GET',
      `/1.0/storage-pools/${enc(this.cfg.pool)}/resources`,
      {},
      false,
    );
    return { total: r.space?.total ?? 0, used: r.space?.used ?? 0 };
  }

  // ---- instance addressing ------------------------------------------------------------------

  /** The current name of an instance by durable id; a renamed or deleted one is looked up again. */
  private async nameOf(vm: VmRef): Promise<string> {
    const cached = this.names.get(vm.id);
    if (cached) {
      const i = await this.getInstance(cached).catch((e) => (e instanceof NotFound ? undefined : Promise.reject(e)));
      if (i && i.config['volatile.uuid'] === vm.id) return cached;
    }
    const found = (await this.instances()).find((i) => i.config['volatile.uuid'] === vm.id);
    if (!found) throw new NotFound(`incus: no instance with id ${vm.id} (${vm.name}) in project ${this.cfg.project}`);
    this.names.set(vm.id, found.name);
    return found.name;
  }

  private getInstance(name: string): Promise<IncusInstance> {
    return this.client.sync<IncusInstance>('GET', `/1.0/instances/${enc(name)}`, { query: { recursion: 1 } });
  }

  private async owned_(vm: VmRef): Promise<{ name: string; inst: IncusInstance }> {
    const name = await this.nameOf(vm);
    const inst = await this.getInstance(name);
    if (!ownerOf(inst.config))
      throw new NotOwned(`refusing to touch instance '${name}' (${vm.id}): it carries no vmconform ownership tag`);
    return { name, inst };
  }

  // ---- volumes --------------------------------------------------------------------------------

  private volPath(name: string) {
    return `/1.0/storage-pools/${enc(this.cfg.pool)}/volumes/custom/${enc(name)}`;
  }

  private async createVolume(name: string, sizeBytes: number, vmId?: string): Promise<AsyncResult | undefined> {
    const body = {
      name,
      type: 'custom',
      // Containers take filesystem volumes; VMs block volumes (a disk the guest sees as such).
      content_type: this.isContainer ? 'filesystem' : 'block',
      config: {
        size: `${sizeBytes}B`,
        ...ownershipConfig({ marker: ownershipMarker, runId: this.ctx.runId, createdAt: new Date().toISOString() }),
        ...(vmId ? { [keys.vm]: vmId } : {}),
      },
    };
    const res = await this.client.raw('POST', `/1.0/storage-pools/${enc(this.cfg.pool)}/volumes/custom`, {
      json: body,
    });
    const op = (res.body as { operation?: string }).operation?.split('/').pop();
    return op
      ? {
          id: op,
          acceptedMs: res.durationMs,
          doneMs: res.durationMs,
          op: await this.client.wait(op, `create volume ${name}`),
        }
      : undefined;
  }

  private async volumeInfo(name: string) {
    return this.client.sync<{
      name: string;
      config: Record<string, string>;
      used_by?: string[];
      content_type?: string;
    }>('GET', this.volPath(name));
  }

  private async deleteVolumeByName(name: string): Promise<void> {
    await this.client.raw('DELETE', this.volPath(name));
  }

  private async volumeSizes(inst: IncusInstance): Promise<Record<string, number>> {
    const sizes: Record<string, number> = {};
    for (const dev of Object.values(inst.expanded_devices ?? inst.devices ?? {})) {
      if (dev.type !== 'disk' || !dev.source || !dev.pool || dev.path === '/') continue;
      const v = await this.client
        .sync<{ config: Record<string, string> }>(
          'GET',
          `/1.0/storage-pools/${enc(dev.pool)}/volumes/custom/${enc(dev.source)}`,
        )
        .catch(() => undefined);
      if (v) sizes[volumeId(dev.pool, dev.source)] = parseSize(v.config.size);
    }
    return sizes;
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  private async pushFile(name: string, path: string, content: string): Promise<void> {
    await this.client.raw('POST', `/1.0/instances/${enc(name)}/files`, {
      query: { path },
      raw: Buffer.from(content),
      headers: { 'x-incus-type': 'file', 'x-incus-mode': '0644', 'x-incus-uid': '0', 'x-incus-gid': '0' },
    });
  }

  async create(spec: VmSpec): Promise<Receipt<VmRef>> {
    const t0 = performance.now();
    const type = this.cfg.instanceType;
    const owner = { marker: ownershipMarker, runId: this.ctx.runId, createdAt: new Date().toISOString() } as const;
    const config: Record<string, string> = {
      'limits.cpu': String(spec.vcpus),
      'limits.memory': `${spec.memoryMiB}MiB`,
      ...ownershipConfig(owner),
    };
    for (const [k, v] of Object.entries(spec.metadata)) config[`${keys.metaPrefix}${k}`] = v;
    for (const [k, v] of Object.entries(spec.placement ?? {})) if (v) config[`${keys.placementPrefix}${k}`] = v;
    if (spec.userData !== undefined) config['cloud-init.user-data'] = spec.userData;
    if (spec.firmware && type === 'virtual-machine') config['security.secureboot'] = 'false';
    if (spec.nics.some((n) => n.vlan !== undefined) && this.cfg.prereqMissing.vlan)
      throw new PrereqMissing(this.cfg.prereqMissing.vlan);
    // A container has no firmware: a spec asking for one needs a VM, which this lab cannot start.
    if (spec.firmware && type === 'container')
      throw new PrereqMissing(
        `${spec.firmware} firmware needs a virtual machine; this run creates containers: ${this.cfg.vmUnavailable ?? 'instanceType is container'}`,
      );
    if (spec.firmware === 'bios') {
      throw new Unsupported('Incus virtual machines boot UEFI only (no legacy BIOS firmware option)', 'platform');
    }
    if (type === 'virtual-machine' && this.cfg.kernel && this.cfg.initrd) {
      config['raw.qemu'] =
        `-kernel ${this.cfg.kernel} -initrd ${this.cfg.initrd} -append "console=ttyS0 quiet panic=-1"`;
    }
    const devices: Record<string, IncusDevice> = {
      root: {
        type: 'disk',
        path: '/',
        pool: this.cfg.pool,
        size: `${spec.bootDiskBytes ?? defaultBootDiskBytes}B`,
      },
    };
    const created: string[] = [];
    const used: string[] = [];
    try {
      for (const d of spec.disks) {
        const serial = d.serial ?? d.name;
        const volume = d.volumeId ? (d.volumeId.split('/').pop() as string) : `${spec.name}-${d.name}`;
        if (!d.volumeId) {
          await this.createVolume(volume, d.sizeBytes);
          created.push(volume);
        }
        const target = nextFreeTarget(used);
        used.push(target);
        devices[target] = diskDevice(type, this.cfg.pool, volume, serial);
      }
      for (const [i, n] of spec.nics.entries())
        devices[nicName(i)] = nicDevice(type, i, { ...n, mac: (n.mac ?? randomMac()).toLowerCase() });
      const source = /^[0-9a-f]{64}$/.test(spec.image)
        ? { type: 'image', fingerprint: spec.image }
        : { type: 'image', alias: spec.image };
      const r = await this.client.async(
        'POST',
        '/1.0/instances',
        { json: { name: spec.name, type, source, config, devices, start: false } },
        `create instance ${spec.name} from image ${spec.image}`,
      );
      const inst = await this.getInstance(spec.name);
      const id = inst.config['volatile.uuid'] as string;
      this.names.set(id, spec.name);
      // Volumes made for this VM are released with it (LC-05): tag them with its id.
      for (const v of created) await this.client.raw('PATCH', this.volPath(v), { json: { config: { [keys.vm]: id } } });
      if (spec.userData !== undefined && type === 'container') {
        // A NoCloud-like seed the container guest reads at boot (a container has no cloud-init ISO).
        await this.pushFile(spec.name, `${seedDir}/user-data`, spec.userData);
        await this.pushFile(
          spec.name,
          `${seedDir}/meta-data`,
          `instance-id: ${spec.name}\nlocal-hostname: ${spec.name}\n`,
        );
      }
      return {
        result: { id, name: spec.name },
        handle: handleOf(r),
        acceptedMs: r.acceptedMs,
        doneMs: performance.now() - t0,
      };
    } catch (e) {
      // A failed create leaves nothing half-made (OBS-03).
      for (const v of created) await this.deleteVolumeByName(v).catch(() => undefined);
      throw e;
    }
  }

  private async setState(
    vm: VmRef,
    action: 'start' | 'stop' | 'restart',
    extra: Record<string, unknown>,
    want: VmState['power'] | null,
    op: WaitOperation,
  ): Promise<Receipt> {
    const name = await this.nameOf(vm);
    const t0 = performance.now();
    const r = await this.client.async(
      'PUT',
      `/1.0/instances/${enc(name)}/state`,
      { json: { action, ...extra } },
      `${action} instance ${name}`,
    );
    if (want) {
      let last = '';
      await waitFor(
        `${name} to be ${want}`,
        this.policy(op),
        async () => {
          const s = await this.client.sync<{ status: string }>('GET', `/1.0/instances/${enc(name)}/state`);
          last = s.status;
          return s.status.toLowerCase() === want ? true : undefined;
        },
        { describeLast: () => last },
      );
    }
    return { ...receipt(r, undefined), doneMs: performance.now() - t0 };
  }

  start(vm: VmRef): Promise<Receipt> {
    return this.setState(vm, 'start', {}, 'running', 'start');
  }

  stop(vm: VmRef, opts: StopOptions): Promise<Receipt> {
    return opts.force
      ? this.setState(vm, 'stop', { force: true }, 'stopped', 'stop-forced')
      : this.setState(vm, 'stop', { force: false, timeout: 60 }, 'stopped', 'stop-graceful');
  }

  /** Incus restart: for a container a clean stop and start of its init; for a VM an ACPI reboot. */
  reboot(vm: VmRef): Promise<Receipt> {
    return this.setState(vm, 'restart', { timeout: 60 }, null, 'reboot');
  }

  async delete(vm: VmRef): Promise<Receipt> {
    const { name, inst } = await this.owned_(vm);
    const t0 = performance.now();
    if (inst.status !== 'Stopped')
      await this.client
        .async('PUT', `/1.0/instances/${enc(name)}/state`, { json: { action: 'stop', force: true } }, `stop ${name}`)
        .catch((e) => (e instanceof Conflict ? undefined : Promise.reject(e)));
    const r = await this.client.async('DELETE', `/1.0/instances/${enc(name)}`, {}, `delete instance ${name}`);
    this.names.delete(vm.id);
    // Released with the VM: volumes created for it and still attached to it.
    for (const dev of Object.values(inst.devices)) {
      if (dev.type !== 'disk' || !dev.source || dev.path === '/') continue;
      const v = await this.volumeInfo(dev.source).catch(() => undefined);
      if (v?.config[keys.vm] === vm.id && ownerOf(v.config)) await this.deleteVolumeByName(dev.source);
    }
    return { result: undefined, handle: handleOf(r), acceptedMs: r.acceptedMs, doneMs: performance.now() - t0 };
  }

  async rename(vm: VmRef, newName: string): Promise<Receipt<VmRef>> {
    const { name } = await this.owned_(vm);
    const r = await this.client.async(
      'POST',
      `/1.0/instances/${enc(name)}`,
      { json: { name: newName } },
      `rename ${name}`,
    );
    this.names.set(vm.id, newName);
    return receipt(r, { id: vm.id, name: newName });
  }

  async inspect(vm: VmRef): Promise<VmState> {
    const name = await this.nameOf(vm);
    const inst = await this.getInstance(name);
    return parseInstance(inst, await this.volumeSizes(inst)).state;
  }

  async list(filter: { owner?: string; metadata?: Record<string, string> }): Promise<VmRef[]> {
    // Incus filters server-side on config keys (API extension api_filtering).
    const clauses = [`config.${keys.marker} eq ${ownershipMarker}`];
    if (filter.owner !== undefined) clauses.push(`config.${keys.run} eq ${filter.owner}`);
    for (const [k, v] of Object.entries(filter.metadata ?? {})) clauses.push(`config.${keys.metaPrefix}${k} eq ${v}`);
    const found = await this.client.sync<IncusInstance[]>('GET', '/1.0/instances', {
      query: { recursion: 1, filter: clauses.join(' and ') },
    });
    return found.map((i) => {
      const id = i.config['volatile.uuid'] as string;
      this.names.set(id, i.name);
      return { id, name: i.name };
    });
  }

  private async customVolumes() {
    return this.client.sync<
      { name: string; config: Record<string, string>; used_by?: string[]; type: string; content_type?: string }[]
    >('GET', `/1.0/storage-pools/${enc(this.cfg.pool)}/volumes/custom`, { query: { recursion: 1 } });
  }

  async owned(): Promise<OwnedObject[]> {
    const out: OwnedObject[] = [];
    for (const i of await this.instances()) {
      const o = ownerOf(i.config);
      if (o) out.push({ kind: 'vm', id: i.config['volatile.uuid'] as string, name: i.name, runId: o.runId });
    }
    for (const v of await this.customVolumes()) {
      const o = ownerOf(v.config);
      if (o) out.push({ kind: 'volume', id: volumeId(this.cfg.pool, v.name), name: v.name, runId: o.runId });
    }
    for (const img of await this.rawImages()) {
      const o = ownerOf(img.properties ?? {});
      if (o)
        out.push({
          kind: 'image',
          id: img.fingerprint,
          name: img.aliases?.[0]?.name ?? img.fingerprint,
          runId: o.runId,
        });
    }
    return out;
  }

  // ---- disks ---------------------------------------------------------------------------------

  private async patchDevices(name: string, devices: Record<string, IncusDevice>, what: string): Promise<AsyncResult> {
    // PUT of the instance's own (unexpanded) devices: a full replacement is how Incus hotplugs and unplugs.
    const inst = await this.getInstance(name);
    return this.client.async(
      'PUT',
      `/1.0/instances/${enc(name)}`,
      { json: { config: inst.config, devices, profiles: (inst as { profiles?: string[] }).profiles ?? ['default'] } },
      what,
    );
  }

  async attachDisk(vm: VmRef, disk: DiskSpec): Promise<Receipt<AttachedDisk>> {
    const { name, inst } = await this.owned_(vm);
    const t0 = performance.now();
    const target = nextFreeTarget(Object.keys(inst.expanded_devices ?? inst.devices));
    const volume = disk.volumeId ? (disk.volumeId.split('/').pop() as string) : `${name}-${disk.name}`;
    if (!disk.volumeId) await this.createVolume(volume, disk.sizeBytes, vm.id);
    let r: AsyncResult;
    try {
      r = await this.patchDevices(
        name,
        { ...inst.devices, [target]: diskDevice(inst.type, this.cfg.pool, volume, disk.serial ?? disk.name) },
        `attach disk ${volume} to ${name}`,
      );
    } catch (e) {
      if (!disk.volumeId) await this.deleteVolumeByName(volume).catch(() => undefined);
      throw e;
    }
    const attached = (await this.inspect(vm)).config.disks.find((d) => d.target === target);
    if (!attached) throw new NotFound(`disk ${target} not present in ${name} after attach`);
    return { result: attached, handle: handleOf(r), acceptedMs: r.acceptedMs, doneMs: performance.now() - t0 };
  }

  async detachDisk(vm: VmRef, diskId: string): Promise<Receipt> {
    const { name, inst } = await this.owned_(vm);
    if (inst.devices[diskId]?.type !== 'disk') throw new NotFound(`${name} has no disk ${diskId}`);
    const { [diskId]: _gone, ...rest } = inst.devices;
    const r = await this.patchDevices(name, rest, `detach disk ${diskId} from ${name}`);
    return receipt(r, undefined);
  }

  async resizeDisk(vm: VmRef, diskId: string, sizeBytes: number): Promise<Receipt> {
    const { name, inst } = await this.owned_(vm);
    const dev = inst.devices[diskId];
    if (!dev?.source) throw new NotFound(`${name} has no data disk ${diskId}`);
    if (this.cfg.sizesNotEnforced) throw new PrereqMissing(`disk resize: ${this.cfg.sizesNotEnforced}`);
    const t0 = performance.now();
    const res = await this.client.raw('PATCH', this.volPath(dev.source), {
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
    const insts = await this.instances();
    const uuidOf = new Map(insts.map((i) => [i.name, i.config['volatile.uuid'] as string]));
    const users = (used: string[] | undefined) =>
      (used ?? [])
        .map((u) => /^\/1\.0\/instances\/([^/?]+)/.exec(u)?.[1])
        .filter((n): n is string => !!n)
        .map((n) => uuidOf.get(decodeURIComponent(n)) ?? n);
    const out: Volume[] = [];
    const all = await this.client.sync<
      { name: string; type: string; config: Record<string, string>; used_by?: string[]; content_type?: string }[]
    >('GET', `/1.0/storage-pools/${enc(this.cfg.pool)}/volumes`, { query: { recursion: 1 } });
    for (const v of all) {
      if (v.type === 'custom') {
        const owner = ownerOf(v.config);
        out.push({
          id: volumeId(this.cfg.pool, v.name),
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
          id: volumeId(this.cfg.pool, `${v.type}/${v.name}`),
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
    const v = await this.volumeInfo(name);
    if (!ownerOf(v.config))
      throw new NotOwned(`refusing to delete volume '${id}': it carries no vmconform ownership tag`);
    if ((v.used_by ?? []).length > 0) throw new Conflict(`volume '${id}' is in use by ${(v.used_by ?? []).join(', ')}`);
    const t0 = performance.now();
    const res = await this.client.raw('DELETE', this.volPath(name));
    return {
      result: undefined,
      handle: { kind: 'none', id: null, note: 'Incus deletes a custom volume synchronously' },
      acceptedMs: res.durationMs,
      doneMs: performance.now() - t0,
    };
  }

  async storagePools(): Promise<StoragePool[]> {
    const pools = await this.client.sync<{ name: string; driver: string; status: string }[]>(
      'GET',
      '/1.0/storage-pools',
      { query: { recursion: 1 } },
      false,
    );
    const out: StoragePool[] = [];
    for (const p of pools) {
      const r = await this.client.sync<{ space?: { total?: number; used?: number } }>(
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

  async metrics(vm: VmRef): Promise<VmMetrics> {
    const name = await this.nameOf(vm);
    const s = await this.client.sync<{
      cpu?: { usage: number };
      memory?: { usage: number };
      network?: Record<string, { counters?: { bytes_received: number; bytes_sent: number } }> | null;
    }>('GET', `/1.0/instances/${enc(name)}/state`);
    const prom = await this.client.raw('GET', '/1.0/metrics').catch(() => undefined);
    const text = typeof prom?.body === 'string' ? prom.body : '';
    const reads = metricValues(text, 'incus_disk_read_bytes_total', name);
    const writes = metricValues(text, 'incus_disk_written_bytes_total', name);
    return {
      ...(s.cpu ? { cpuTimeNs: s.cpu.usage } : {}),
      ...(s.memory ? { memoryBytes: s.memory.usage } : {}),
      // Incus labels disk counters with the block device they hit (for a dir-pool container, the host's disk).
      disks: reads.map((r) => ({
        target: r.labels.device ?? '',
        readBytes: r.value,
        writeBytes: writes.find((w) => w.labels.device === r.labels.device)?.value ?? 0,
      })),
      nics: Object.entries(s.network ?? {})
        .filter(([n]) => n !== 'lo')
        .map(([n, v]) => ({ name: n, rxBytes: v.counters?.bytes_received ?? 0, txBytes: v.counters?.bytes_sent ?? 0 })),
    };
  }

  async hostMetrics(): Promise<HostMetrics> {
    const r = await this.client.sync<IncusResources>('GET', '/1.0/resources', {}, false);
    throw new Unsupported(
      `Incus exposes host memory (${r.memory?.used ?? '?'} of ${r.memory?.total ?? '?'} bytes used, /1.0/resources) but no host CPU time counters: /1.0/metrics carries per-instance metrics only`,
      'platform',
    );
  }

  // ---- NICs ------------------------------------------------------------------------------------

  async attachNic(vm: VmRef, nic: NicSpec): Promise<Receipt<AttachedNic>> {
    const { name, inst } = await this.owned_(vm);
    if (nic.vlan !== undefined && this.cfg.prereqMissing.vlan) throw new PrereqMissing(this.cfg.prereqMissing.vlan);
    const t0 = performance.now();
    const mac = (nic.mac ?? randomMac()).toLowerCase();
    const used = Object.keys(inst.expanded_devices ?? inst.devices);
    let i = 0;
    while (used.includes(nicName(i))) i++;
    const r = await this.patchDevices(
      name,
      { ...inst.devices, [nicName(i)]: nicDevice(inst.type, i, { ...nic, mac }) },
      `attach NIC ${mac} to ${name}`,
    );
    const found = (await this.inspect(vm)).config.nics.find((n) => n.mac === mac);
    if (!found) throw new NotFound(`NIC ${mac} not present in ${name} after attach`);
    return { result: found, handle: handleOf(r), acceptedMs: r.acceptedMs, doneMs: performance.now() - t0 };
  }

  async detachNic(vm: VmRef, mac: string): Promise<Receipt> {
    const { name, inst } = await this.owned_(vm);
    const want = mac.toLowerCase();
    const dev = Object.entries(inst.devices).find(
      ([n, d]) => d.type === 'nic' && (d.hwaddr ?? inst.config[`volatile.${n}.hwaddr`] ?? '').toLowerCase() === want,
    );
    if (!dev) throw new NotFound(`${name} has no NIC with MAC ${mac}`);
    const { [dev[0]]: _gone, ...rest } = inst.devices;
    return receipt(await this.patchDevices(name, rest, `detach NIC ${mac} from ${name}`), undefined);
  }

  async networks(): Promise<Network[]> {
    const nets = await this.client.sync<{ name: string; type: string; managed: boolean; status?: string }[]>(
      'GET',
      '/1.0/networks',
      { query: { recursion: 1 } },
    );
    // Incus also lists every host interface (managed: false); those are not its networks.
    return nets
      .filter((n) => n.managed)
      .map((n) => ({ name: n.name, kind: 'platform' as const, bridge: n.name, active: n.status === 'Created' }));
  }

  // ---- images ----------------------------------------------------------------------------------

  private rawImages() {
    return this.client.sync<
      {
        fingerprint: string;
        size: number;
        type: string;
        aliases?: { name: string }[];
        properties?: Record<string, string>;
      }[]
    >('GET', '/1.0/images', { query: { recursion: 1 } });
  }

  async images(): Promise<Image[]> {
    return (await this.rawImages()).map((i) => {
      const owner = ownerOf(i.properties ?? {});
      return {
        id: i.fingerprint,
        name: i.aliases?.[0]?.name ?? i.fingerprint,
        ...(i.properties?.release ? { version: i.properties.release } : {}),
        format: i.type === 'virtual-machine' ? 'qcow2' : 'squashfs-or-tarball',
        sizeBytes: i.size,
        // Incus's fingerprint is the sha256 of the image file(s) it stores: its own checksum.
        checksum: { algorithm: 'sha256', value: i.fingerprint },
        ...(owner ? { owner } : {}),
      };
    });
  }

  /**
   * POST /1.0/images with the file as the body: Incus fingerprints it (sha256) itself, so the returned
   * checksum is the platform's. A bare raw/qcow2 disk needs Incus image metadata: only unified tarballs
   * (metadata.yaml + rootfs) import as one file, so a plain disk file is refused by the platform.
   */
  async importImage(src: ImageSource): Promise<Receipt<Image>> {
    const body = await readFile(src.path);
    // A unified image is a (gzip'd) tarball holding metadata.yaml; a bare disk has no Incus metadata.
    const tarball = (body[0] === 0x1f && body[1] === 0x8b) || body.subarray(257, 262).toString() === 'ustar';
    if (!tarball)
      throw new Unsupported(
        `importing a bare ${src.format} disk needs a split Incus image (metadata tarball + disk, multipart POST), not implemented yet`,
        'adapter',
      );
    const owner = { marker: ownershipMarker, runId: this.ctx.runId, createdAt: new Date().toISOString() };
    const props = {
      name: src.name,
      release: src.version,
      [keys.marker]: owner.marker,
      [keys.run]: owner.runId,
      [keys.created]: owner.createdAt,
    };
    const res = await this.client.raw('POST', '/1.0/images', {
      raw: body,
      headers: {
        'x-incus-public': '0',
        'x-incus-properties': new URLSearchParams(props).toString(),
        'x-incus-aliases': `name=${enc(`${src.name}-${src.version}`)}`,
      },
    });
    const id = (res.body as { operation?: string }).operation?.split('/').pop() as string;
    const t0 = performance.now();
    const op = await this.client.wait(id, `import image ${src.name}`);
    const fingerprint = String((op.metadata as { fingerprint?: string } | null)?.fingerprint ?? '');
    const img = (await this.images()).find((i) => i.id === fingerprint);
    if (!img) throw new NotFound(`imported image ${fingerprint} not listed`);
    return {
      result: img,
      handle: { kind: 'operation', id },
      acceptedMs: res.durationMs,
      doneMs: res.durationMs + performance.now() - t0,
    };
  }

  async deleteImage(id: string): Promise<Receipt> {
    const img = (await this.rawImages()).find((i) => i.fingerprint === id);
    if (!img) throw new NotFound(`no image ${id}`);
    if (!ownerOf(img.properties ?? {}))
      throw new NotOwned(`refusing to delete image ${id}: no vmconform ownership tag`);
    return receipt(await this.client.async('DELETE', `/1.0/images/${id}`, {}, `delete image ${id}`), undefined);
  }

  // ---- backups ---------------------------------------------------------------------------------

  async backup(vm: VmRef): Promise<Receipt<Backup>> {
    const { name } = await this.owned_(vm);
    const bname = `vmc-${Date.now().toString(36)}`;
    const r = await this.client.async(
      'POST',
      `/1.0/instances/${enc(name)}/backups`,
      { json: { name: bname, compression_algorithm: 'none', instance_only: false } },
      `backup ${name}`,
    );
    const b = await this.client.sync<{ name: string; created_at: string }>(
      'GET',
      `/1.0/instances/${enc(name)}/backups/${enc(bname)}`,
    );
    return receipt(r, {
      id: `${name}/${bname}`,
      vm,
      createdAt: b.created_at,
      sizeBytes: 0,
      location: `Incus instance backup ${name}/${bname} (pool ${this.cfg.pool})`,
    });
  }

  /** Incus restores a backup elsewhere by exporting its tarball and POSTing it to /1.0/instances under a new name. */
  async restore(backup: Backup, opts: RestoreOptions): Promise<Receipt<VmRef>> {
    const [inst, bname] = backup.id.split('/') as [string, string];
    const t0 = performance.now();
    const file = await this.client
      .raw('GET', `/1.0/instances/${enc(inst)}/backups/${enc(bname)}/export`, { binary: true })
      .catch(async (e: unknown) => {
        const gone =
          e instanceof NotFound &&
          (await this.getInstance(inst).then(
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
    const res = await this.client.raw('POST', '/1.0/instances', {
      raw: file.body as Buffer,
      headers: { 'x-incus-name': opts.name, 'x-incus-pool': this.cfg.pool },
    });
    const id = operationIdOf(res.body);
    if (!id) throw new Error(`incus: restore of ${backup.id} returned no operation`);
    await this.client.wait(id, `restore ${backup.id} as ${opts.name}`);
    const created = await this.getInstance(opts.name);
    let uuid = created.config['volatile.uuid'] as string;
    const config: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.placement ?? {})) if (v) config[`${keys.placementPrefix}${k}`] = v;
    // Incus keeps the instance UUID on import; while the original lives, the copy needs its own id.
    const twin = (await this.instances()).some((i) => i.name !== opts.name && i.config['volatile.uuid'] === uuid);
    if (twin) {
      uuid = randomUUID();
      config['volatile.uuid'] = uuid;
    }
    if (Object.keys(config).length > 0)
      await this.client.async('PATCH', `/1.0/instances/${enc(opts.name)}`, { json: { config } }, `place ${opts.name}`);
    this.names.set(uuid, opts.name);
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
      await this.client.async('DELETE', `/1.0/instances/${enc(inst)}/backups/${enc(bname)}`, {}, `delete backup ${id}`),
      undefined,
    );
  }

  async backups(): Promise<Backup[]> {
    const out: Backup[] = [];
    for (const i of await this.instances()) {
      if (!ownerOf(i.config)) continue;
      const list = await this.client.sync<{ name: string; created_at: string }[]>(
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

  async exportVolume(_id: string, dest: { path: string; format: VolumeFile['format'] }): Promise<Receipt<VolumeFile>> {
    if (this.isContainer)
      throw new Unsupported(
        `a container's custom volume is a filesystem, not a disk: Incus exports it only as its own backup tarball, never as ${dest.format}`,
        'platform',
      );
    throw new Unsupported(
      'block volume export (volume backup to raw/qcow2) is not implemented in the Incus adapter yet',
      'adapter',
    );
  }

  async importVolume(_name: string, src: VolumeFile): Promise<Receipt<Volume>> {
    if (this.isContainer)
      throw new Unsupported(
        `a container's custom volume is a filesystem: Incus cannot import a ${src.format} disk file into one`,
        'platform',
      );
    throw new Unsupported(
      'block volume import (POST volumes with a raw/qcow2 body) is not implemented in the Incus adapter yet',
      'adapter',
    );
  }

  async reconfigure(vm: VmRef, change: Resize): Promise<Receipt> {
    const { name } = await this.owned_(vm);
    const config: Record<string, string> = {};
    if (change.vcpus !== undefined) config['limits.cpu'] = String(change.vcpus);
    if (change.memoryMiB !== undefined) config['limits.memory'] = `${change.memoryMiB}MiB`;
    const r = await this.client.async(
      'PATCH',
      `/1.0/instances/${enc(name)}`,
      { json: { config } },
      `reconfigure ${name}`,
    );
    return receipt(r, undefined);
  }

  async consoleLog(vm: VmRef): Promise<string> {
    const name = await this.nameOf(vm);
    const r = await this.client.raw('GET', `/1.0/instances/${enc(name)}/console`, {
      headers: { accept: 'application/octet-stream' },
    });
    return r.text;
  }

  // ---- events, tasks, guest --------------------------------------------------------------------

  async *events(signal: AbortSignal): AsyncIterable<PlatformEvent> {
    const queue: PlatformEvent[] = [];
    let wake: (() => void) | undefined;
    let ended = false;
    const done = this.client
      .events(signal, (text) => {
        const e = parseEvent(text, Date.now());
        if (e) {
          queue.push(e);
          wake?.();
        }
      })
      .finally(() => {
        ended = true;
        wake?.();
      });
    try {
      while (!signal.aborted) {
        const e = queue.shift();
        if (e) {
          yield e;
          continue;
        }
        if (ended) break;
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = undefined;
      }
    } finally {
      await done.catch(() => undefined);
    }
  }

  async task(handle: TaskHandle): Promise<TaskInfo> {
    if (handle.kind !== 'operation' || !handle.id)
      throw new NotFound(`not an Incus operation handle: ${JSON.stringify(handle)}`);
    return toTaskInfo(await this.client.sync<IncusOperation>('GET', `/1.0/operations/${enc(handle.id)}`, {}, false));
  }

  guest(vm: VmRef): GuestProbe {
    if (!this.isContainer)
      // The VM guest (direct kernel boot, no incus-agent) prints its protocol on the serial console,
      // which Incus serves as the instance console log. Unverified on this lab: VMs cannot start here.
      return { kind: 'serial-console', read: async () => parseConsole(await this.consoleLog(vm)) };
    return {
      kind: 'exec',
      // The guest's own protocol log, read through the instance file API (works while stopped too).
      read: async () => {
        // Polled often while waiting for the guest: the cached name saves a lookup per read.
        const name = this.names.get(vm.id) ?? (await this.nameOf(vm));
        const r = await this.client
          .raw('GET', `/1.0/instances/${enc(name)}/files`, { query: { path: guestLog } })
          .catch((e) => (e instanceof NotFound ? undefined : Promise.reject(e)));
        return parseConsole(r?.text ?? '');
      },
    };
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
