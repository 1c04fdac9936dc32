/**
 * What every Incus concern shares: the config, the REST client, the instance-name cache, owned-instance
 * lookup, custom-volume and device helpers, and the receipt shape of an Incus operation.
 */
import { randomBytes } from 'node:crypto';
import {
  AdapterBase,
  type AdapterContext,
  AuthFailed,
  type Capabilities,
  NotFound,
  ownershipMarker,
  type Receipt,
  type TaskHandle,
  type VmRef,
  type VmState,
  type WaitOperation,
  type WaitPolicy,
} from '../contract/index.js';
import type { TlsOptions } from '../http/client.js';
import { type AsyncResult, IncusClient } from './client.js';
import {
  type IncusDevice,
  type IncusInstance,
  keys,
  ownerOf,
  ownershipConfig,
  parseInstance,
  parseSize,
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

export const randomMac = () =>
  `52:54:00:${Array.from(randomBytes(3))
    .map((b) => b.toString(16).padStart(2, '0'))
    .join(':')}`;

export const handleOf = (r: AsyncResult): TaskHandle =>
  r.id
    ? { kind: 'operation', id: r.id }
    : { kind: 'none', id: null, note: 'Incus answered this call synchronously, without an operation' };
export const receipt = <T>(r: AsyncResult, result: T): Receipt<T> => ({
  result,
  handle: handleOf(r),
  acceptedMs: r.acceptedMs,
  doneMs: r.doneMs,
});
export const enc = encodeURIComponent;

export interface IncusServer {
  api_version: string;
  environment: {
    server_version: string;
    server_name: string;
    server_clustered: boolean;
    driver?: string;
    driver_version?: string;
  };
}

export interface IncusImage {
  fingerprint: string;
  size: number;
  type: string;
  aliases?: { name: string }[];
  properties?: Record<string, string>;
}

export class IncusBase extends AdapterBase {
  readonly client: IncusClient;
  /** uuid -> current name: Incus addresses instances by name, the contract by durable id. */
  readonly names = new Map<string, string>();
  private serverInfo?: Promise<IncusServer>;

  constructor(
    readonly cfg: IncusConfig,
    ctx: AdapterContext,
  ) {
    super('incus', ctx, cfg.waits);
    this.client = new IncusClient({
      ...(cfg.socketPath ? { socketPath: cfg.socketPath } : {}),
      ...(cfg.url ? { url: cfg.url } : {}),
      ...(cfg.tls ? { tls: cfg.tls } : {}),
      project: cfg.project,
      transcript: ctx.transcript,
    });
  }

  get isContainer(): boolean {
    return this.cfg.instanceType === 'container';
  }

  /** GET /1.0 answers untrusted clients too, with auth 'untrusted' and no environment: that is Incus's auth verdict. */
  server(): Promise<IncusServer> {
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

  async clustered(): Promise<boolean> {
    return (await this.server()).environment.server_clustered;
  }

  instances(): Promise<IncusInstance[]> {
    return this.client.sync<IncusInstance[]>('GET', '/1.0/instances', { query: { recursion: 1 } });
  }

  // ---- instance addressing ------------------------------------------------------------------

  /** The current name of an instance by durable id; a renamed or deleted one is looked up again. */
  async nameOf(vm: VmRef): Promise<string> {
    return (await this.resolve(vm)).name;
  }

  /**
   * The instance behind a durable id, read once: the read that proves the cached name still holds this id
   * (never a same-named replacement) is the instance the caller goes on with, not read a second time.
   */
  async resolve(vm: VmRef): Promise<{ name: string; inst: IncusInstance }> {
    const cached = this.names.get(vm.id);
    if (cached) {
      const i = await this.getInstance(cached).catch((e) => (e instanceof NotFound ? undefined : Promise.reject(e)));
      if (i && i.config['volatile.uuid'] === vm.id) return { name: cached, inst: i };
    }
    const found = (await this.instances()).find((i) => i.config['volatile.uuid'] === vm.id);
    if (!found) throw new NotFound(`incus: no instance with id ${vm.id} (${vm.name}) in project ${this.cfg.project}`);
    this.names.set(vm.id, found.name);
    // The listing holds no live state: the instance is read by name as the cached path reads it.
    const inst = await this.getInstance(found.name);
    if (inst.config['volatile.uuid'] !== vm.id)
      throw new NotFound(`incus: instance ${found.name} no longer has id ${vm.id} (${vm.name})`);
    return { name: found.name, inst };
  }

  /**
   * The instance as Incus renders it: config, devices and live status. Not recursion=1: that adds the
   * live state (network, disk and memory counters), which costs the daemon a round of reads per call
   * and which nothing here uses (the status is the same word in both).
   */
  getInstance(name: string): Promise<IncusInstance> {
    return this.client.sync<IncusInstance>('GET', `/1.0/instances/${enc(name)}`);
  }

  /** The instance behind `vm`, refused (NotOwned) unless it carries the ownership tag. */
  async ownedInstance(vm: VmRef): Promise<{ name: string; inst: IncusInstance }> {
    const { name, inst } = await this.resolve(vm);
    this.ensureOwned(ownerOf(inst.config), `instance '${name}' (${vm.id})`);
    return { name, inst };
  }

  /** The contract state of an instance, with its custom volumes' sizes. */
  async inspect(vm: VmRef): Promise<VmState> {
    const { inst } = await this.resolve(vm);
    return parseInstance(inst, await this.volumeSizes(inst)).state;
  }

  async patchDevices(name: string, devices: Record<string, IncusDevice>, what: string): Promise<AsyncResult> {
    // PUT of the instance's own (unexpanded) devices: a full replacement is how Incus hotplugs and unplugs.
    const inst = await this.getInstance(name);
    return this.client.async(
      'PUT',
      `/1.0/instances/${enc(name)}`,
      { json: { config: inst.config, devices, profiles: (inst as { profiles?: string[] }).profiles ?? ['default'] } },
      what,
    );
  }

  /** The instance console as Incus serves it (for a VM, its serial console). */
  async consoleLog(vm: VmRef): Promise<string> {
    const name = await this.nameOf(vm);
    const r = await this.client.raw('GET', `/1.0/instances/${enc(name)}/console`, {
      headers: { accept: 'application/octet-stream' },
    });
    return r.text;
  }

  rawImages(): Promise<IncusImage[]> {
    return this.client.sync<IncusImage[]>('GET', '/1.0/images', { query: { recursion: 1 } });
  }

  // ---- volumes --------------------------------------------------------------------------------

  volPath(name: string) {
    return `/1.0/storage-pools/${enc(this.cfg.pool)}/volumes/custom/${enc(name)}`;
  }

  async createVolume(name: string, sizeBytes: number, vmId?: string): Promise<AsyncResult | undefined> {
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

  async volumeInfo(name: string) {
    return this.client.sync<{
      name: string;
      config: Record<string, string>;
      used_by?: string[];
      content_type?: string;
    }>('GET', this.volPath(name));
  }

  async deleteVolumeByName(name: string): Promise<void> {
    await this.client.raw('DELETE', this.volPath(name));
  }

  async customVolumes() {
    return this.client.sync<
      { name: string; config: Record<string, string>; used_by?: string[]; type: string; content_type?: string }[]
    >('GET', `/1.0/storage-pools/${enc(this.cfg.pool)}/volumes/custom`, { query: { recursion: 1 } });
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
}
