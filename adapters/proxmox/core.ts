/**
 * What every Proxmox concern shares: the REST client and node, the VMID behind a VmRef (the SMBIOS
 * UUID the adapter writes), the ownership guard on a VM's tags, and mutating calls that follow the task
 * (UPID) they start. The core ops (capabilities, versions, owned objects) live here too.
 */
import { randomBytes } from 'node:crypto';
import type { GuestReport } from '../../host/guest/report.js';
import { type WaitOperation, type WaitPolicy, waitFor } from '../../host/wait.js';
import {
  AdapterBase,
  type AdapterContext,
  type Capabilities,
  Conflict,
  type CoreOps,
  type DiskSpec,
  type NicSpec,
  NotFound,
  type OwnedObject,
  type OwnershipTag,
  ownershipMarker,
  type Placement,
  type PlatformInfo,
  type Receipt,
  type VmRef,
} from '../contract/index.js';
import type { TlsOptions } from '../http/client.js';
import { type Params, ProxmoxClient } from './client.js';
import {
  buildDescription,
  buildNet,
  type ClusterResource,
  isUpid,
  type PveVersion,
  parseTags,
  parseVersion,
  smbiosUuid,
} from './mapping.js';

export interface ProxmoxConfig {
  baseUrl: string;
  node: string;
  tokenId: string;
  tokenSecret: string;
  tls: TlsOptions;
  /** Storage for VM disks (images content). */
  storage: string;
  /** Storage with snippets content, and the directory where that storage's snippets are reachable from here. */
  snippetStorage: string;
  snippetsDir?: string;
  backupStorage: string;
  pool?: string;
  externalBridges: string[];
  placement: Placement;
  /** True when the endpoint is the vmconform simulator: every pass becomes `simulated`. */
  simulator: boolean;
  prereqMissing: Capabilities['prereqMissing'];
  waits?: Partial<Record<string, WaitPolicy>>;
}

export const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export interface Located {
  vmid: number;
  node: string;
  config: Record<string, string>;
}

/** A backup archive in the backup storage; runId is read from the vmconform note vzdump wrote. */
export interface BackupVolume {
  volid: string;
  size: number;
  ctime?: number;
  vmid?: number;
  notes?: string;
  runId?: string;
}

/** The ownership record as the base's guard reads it, for objects that carry only a yes/no mark of it. */
export const ownerIf = (owned: boolean): Pick<OwnershipTag, 'marker'> | undefined =>
  owned ? { marker: ownershipMarker } : undefined;

/** A VM's tags hold the ownership marker (and the run id) but no full ownership record. */
export const tagOwner = (tags: string | undefined) => ownerIf(parseTags(tags).owned);

export class ProxmoxBase extends AdapterBase {
  readonly api: ProxmoxClient;
  private versionInfo: PveVersion | undefined;
  /** SMBIOS UUID -> vmid; always re-checked against the config before use. */
  readonly ids = new Map<string, number>();
  /** What the guest agent last reported per VM, served while the guest is not running. */
  readonly guestCache = new Map<string, GuestReport>();

  constructor(
    readonly c: ProxmoxConfig,
    ctx: AdapterContext,
  ) {
    super('proxmox', ctx, c.waits);
    this.api = new ProxmoxClient({
      baseUrl: c.baseUrl,
      tokenId: c.tokenId,
      tokenSecret: c.tokenSecret,
      tls: c.tls,
      transcript: ctx.transcript,
    });
  }

  get nodePath() {
    return `/nodes/${encodeURIComponent(this.c.node)}`;
  }

  /** The config says simulator, or the endpoint itself said so (read after version()). */
  get simulated(): boolean {
    return this.c.simulator || this.api.simulatorSeen;
  }

  /** /version is read first: behaviour that differs between releases keys off it. */
  async version(): Promise<PveVersion> {
    this.versionInfo ??= parseVersion(await this.api.get<{ version: string; release: string }>('/version'));
    return this.versionInfo;
  }

  resources(type?: 'vm' | 'node' | 'storage') {
    return this.api.get<ClusterResource[]>('/cluster/resources', type ? { type } : {});
  }

  async config(vmid: number): Promise<Record<string, string>> {
    return this.api.get<Record<string, string>>(`${this.nodePath}/qemu/${vmid}/config`);
  }

  async power(vmid: number): Promise<{ status: string; qmpstatus?: string; lock?: string }> {
    return this.api.get(`${this.nodePath}/qemu/${vmid}/status/current`);
  }

  /** VmRef (SMBIOS UUID) -> vmid and config on this node, or NotFound. */
  async locate(vm: VmRef): Promise<Located> {
    const cached = this.ids.get(vm.id);
    // Listed first: Proxmox answers a missing VM's config with a 500, which reads would retry.
    const listed = await this.resources('vm');
    if (cached !== undefined && listed.some((r) => r.vmid === cached && r.node === this.c.node)) {
      const config = await this.config(cached).catch((e: unknown) =>
        e instanceof NotFound ? undefined : Promise.reject(e),
      );
      if (config && smbiosUuid(config.smbios1) === vm.id) return { vmid: cached, node: this.c.node, config };
      this.ids.delete(vm.id);
    }
    for (const r of listed) {
      if (r.type !== 'qemu' || r.node !== this.c.node || r.vmid === undefined || r.template) continue;
      if ([...this.ids.values()].includes(r.vmid)) continue;
      const config = await this.config(r.vmid).catch(() => undefined);
      const uuid = smbiosUuid(config?.smbios1);
      if (uuid) this.ids.set(uuid, r.vmid);
      if (uuid === vm.id && config) return { vmid: r.vmid, node: this.c.node, config };
    }
    throw new NotFound(`proxmox: no VM with SMBIOS UUID ${vm.id} (${vm.name}) on node ${this.c.node}`);
  }

  /** The VMID behind a VmRef, for lab controls that act beside the driver (INT-02). */
  async vmidOf(vm: VmRef): Promise<number> {
    return (await this.locate(vm)).vmid;
  }

  /** locate(), then refuse a VM that does not carry the ownership tag. */
  async mine(vm: VmRef): Promise<Located> {
    const l = await this.locate(vm);
    this.ensureOwned(tagOwner(l.config.tags), `VM ${l.vmid} (${vm.name})`);
    return l;
  }

  /**
   * A mutating call: sends it once, follows the UPID it returns under the operation's wait policy.
   * `VM is locked` means Proxmox refused before doing anything, so that one refusal is retried
   * after waiting for the lock, never a call whose outcome is unknown.
   */
  async mutate(
    method: 'POST' | 'PUT' | 'DELETE',
    path: string,
    params: Params,
    op: WaitOperation,
    whileRunning?: () => Promise<void>,
  ): Promise<Receipt<string | null>> {
    const t0 = performance.now();
    let data: unknown;
    const deadline = Date.now() + this.policy('device').deadlineMs;
    for (;;) {
      try {
        data = await this.api.call(method, path, params);
        break;
      } catch (e) {
        if (!(e instanceof Conflict && /VM is locked/.test(e.message)) || Date.now() > deadline) throw e;
        await waitFor(`lock on ${path} to clear`, this.policy('device'), async () => {
          const cfg = await this.api.get<Record<string, string>>(
            path.replace(/\/(status\/\w+|config|resize|move_disk|clone)$/, '/config'),
          );
          return cfg.lock ? undefined : true;
        });
      }
    }
    const acceptedMs = performance.now() - t0;
    if (isUpid(data)) {
      await this.api.waitTask(data, this.policy(op), whileRunning ? { whileRunning } : {});
      return { result: data, handle: { kind: 'task', id: data }, acceptedMs, doneMs: performance.now() - t0 };
    }
    return {
      result: null,
      handle: { kind: 'none', id: null, note: `${method} ${path} completed synchronously; Proxmox returned no task` },
      acceptedMs,
      doneMs: performance.now() - t0,
    };
  }

  receipt<T>(r: Receipt<unknown>, result: T): Receipt<T> {
    return { ...r, result };
  }

  /** The description line holding this run's ownership record and the caller's metadata. */
  ownedDescription(metadata: Record<string, string>): string {
    return buildDescription({
      owner: { marker: ownershipMarker, runId: this.ctx.runId, createdAt: new Date().toISOString() },
      metadata,
    });
  }

  diskValue(d: DiskSpec): string {
    // Proxmox allocates in GiB (fractions allowed): STORAGE:SIZE_IN_GiB.
    const gib = Number((d.sizeBytes / GiB).toFixed(6));
    return `${this.c.storage}:${gib},serial=${d.serial ?? d.name}`;
  }

  nicValue(n: NicSpec): string {
    return buildNet({ mac: n.mac ?? randomMac(), network: n.network, ...(n.vlan ? { vlan: n.vlan } : {}) });
  }

  async backupVolumes(): Promise<BackupVolume[]> {
    const items = await this.api.get<{ volid: string; size: number; ctime?: number; vmid?: number; notes?: string }[]>(
      `${this.nodePath}/storage/${encodeURIComponent(this.c.backupStorage)}/content`,
      { content: 'backup' },
    );
    return items.map((b) => {
      const run = /^vmconform run=(\S+)/.exec(b.notes ?? '')?.[1];
      return { ...b, ...(run ? { runId: run } : {}) };
    });
  }
}

/** A locally administered MAC in Proxmox's own OUI range style (BC:24:11 is what PVE generates). */
function randomMac(): string {
  return `bc:24:11:${[...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
}

/** What the adapter is and holds: capabilities, versions, the owned VMs and backups, shutdown. */
export class ProxmoxCore implements CoreOps {
  constructor(private readonly b: ProxmoxBase) {}

  async capabilities(): Promise<Capabilities> {
    await this.b.version();
    return {
      instanceType: 'vm',
      evidence: this.b.simulated ? 'simulated' : 'real',
      hotplugDisk: true,
      hotplugNic: true,
      resizeDisk: 'online',
      rename: 'any-state',
      taskHandles: true,
      events: 'poll',
      guestView: 'agent',
      metadataFilter: 'adapter',
      externalBridge: true,
      hostMaintenance: 'evacuate-live',
      prereqMissing: this.b.c.prereqMissing,
    };
  }

  async platformInfo(): Promise<PlatformInfo> {
    const v = await this.b.version();
    const status = await this.b.api.get<{ kversion?: string; pveversion?: string }>(`${this.b.nodePath}/status`);
    return {
      platform: 'proxmox',
      product: this.b.simulated ? 'Proxmox VE (vmconform API simulator)' : 'Proxmox VE',
      version: v.version,
      apiVersion: 'api2/json',
      ...(status.pveversion ? { hypervisor: `${status.pveversion}; ${status.kversion ?? ''}`.trim() } : {}),
      accel: this.b.simulated ? 'simulated' : 'kvm',
      endpoint: this.b.c.baseUrl,
    };
  }

  async owned(): Promise<OwnedObject[]> {
    const out: OwnedObject[] = [];
    for (const r of await this.b.resources('vm')) {
      const tags = parseTags(r.tags);
      if (r.type !== 'qemu' || !tags.owned || !tags.runId || r.template || r.vmid === undefined) continue;
      // The id is the SMBIOS UUID, as in every VmRef, so the sweeper can delete it through the driver.
      const uuid = smbiosUuid((await this.b.config(r.vmid).catch(() => undefined))?.smbios1);
      if (uuid) this.b.ids.set(uuid, r.vmid);
      out.push({ kind: 'vm', id: uuid ?? `${r.node}/${r.vmid}`, name: r.name ?? '', runId: tags.runId });
    }
    for (const b of await this.b.backupVolumes())
      if (b.runId) out.push({ kind: 'backup', id: b.volid, name: b.volid, runId: b.runId });
    return out;
  }

  async close(): Promise<void> {
    await this.b.api.close();
  }
}
