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
  AuthFailed,
  type Capabilities,
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

/** A VM as the node lists it (GET /nodes/{node}/qemu): read from its config and process, never lagging. */
export interface NodeVm {
  vmid: number;
  name?: string;
  status: string;
  cpus?: number;
  maxmem?: number;
  template?: number | boolean;
  tags?: string;
  lock?: string;
}

/** A lock Proxmox reported, at once (HTTP 500) or as the exit of a task that then did nothing. */
export function lockedBy(e: unknown): string | undefined {
  if (!(e instanceof Error)) return undefined;
  return /\bVM is locked \(([^)]*)\)/.exec(e.message)?.[1];
}

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

  /**
   * /cluster/resources: for VMs only the id list, tags and lock are current; name, status and template come
   * from pvestatd's last round (up to 10 s old, `unknown` for a new VMID), so VMs are read from vmList().
   */
  resources(type?: 'vm' | 'node' | 'storage') {
    return this.api.get<ClusterResource[]>('/cluster/resources', type ? { type } : {});
  }

  /** The node's VMs with current names, states, tags and template flags. */
  vmList(): Promise<NodeVm[]> {
    return this.api.get<NodeVm[]>(`${this.nodePath}/qemu`);
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
    const listed = await this.vmList();
    if (cached !== undefined && listed.some((r) => r.vmid === cached)) {
      const config = await this.config(cached).catch((e: unknown) =>
        e instanceof NotFound ? undefined : Promise.reject(e),
      );
      if (config && smbiosUuid(config.smbios1) === vm.id) return { vmid: cached, node: this.c.node, config };
      this.ids.delete(vm.id);
    }
    for (const r of listed) {
      if (r.template) continue;
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
   * A mutating call: sends it, follows the UPID it returns under the operation's wait policy.
   * `VM is locked (...)` means Proxmox did nothing: config and clone refuse at once, while start, stop,
   * shutdown, reboot, destroy, resize and vzdump check the lock first thing inside their task and end
   * with it as their exit. Either way the call is repeated after the lock clears, within the device wait
   * policy; no other failure is repeated, as its outcome may be partial. `accepted` hears each UPID.
   */
  async mutate(
    method: 'POST' | 'PUT' | 'DELETE',
    path: string,
    params: Params,
    op: WaitOperation,
    whileRunning?: () => Promise<void>,
    accepted?: (upid: string) => void,
  ): Promise<Receipt<string | null>> {
    const t0 = performance.now();
    const deadline = Date.now() + this.policy('device').deadlineMs;
    for (;;) {
      let data: unknown;
      try {
        data = await this.api.call(method, path, params);
      } catch (e) {
        if (lockedBy(e) === undefined || Date.now() > deadline || !(await this.lockCleared(path, params))) throw e;
        continue;
      }
      const acceptedMs = performance.now() - t0;
      if (!isUpid(data))
        return {
          result: null,
          handle: {
            kind: 'none',
            id: null,
            note: `${method} ${path} completed synchronously; Proxmox returned no task`,
          },
          acceptedMs,
          doneMs: performance.now() - t0,
        };
      accepted?.(data);
      try {
        await this.api.waitTask(data, this.policy(op), whileRunning ? { whileRunning } : {});
      } catch (e) {
        if (lockedBy(e) === undefined || Date.now() > deadline || !(await this.lockCleared(path, params))) throw e;
        continue;
      }
      return { result: data, handle: { kind: 'task', id: data }, acceptedMs, doneMs: performance.now() - t0 };
    }
  }

  /** Waits (device policy) until the VM a call is about has no config lock; false when no VM is named. */
  private async lockCleared(path: string, params: Params): Promise<boolean> {
    const vmid = /\/qemu\/(\d+)/.exec(path)?.[1] ?? (params.vmid !== undefined ? String(params.vmid) : undefined);
    if (vmid === undefined) return false;
    await waitFor(`lock on VM ${vmid} to clear`, this.policy('device'), async () => {
      const cfg = await this.config(Number(vmid));
      return cfg.lock ? undefined : true;
    });
    return true;
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
    return `${this.c.storage}:${allocGiB(d.sizeBytes)},serial=${d.serial ?? d.name}`;
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

/**
 * A new disk's STORAGE:SIZE is read in GiB and converted to KiB with any fraction rounded up
 * (PVE::Tools::convert_size), so a rounded decimal makes the disk bigger than asked (8 MiB as 0.007813 GiB
 * became 8193K). A whole number of KiB over 2^20 has an exact decimal of at most 20 places: sent in full,
 * it converts back to exactly that many KiB.
 */
export function allocGiB(sizeBytes: number): string {
  const kib = Math.ceil(sizeBytes / 1024);
  return (kib / 2 ** 20).toFixed(20).replace(/\.?0+$/, '');
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
    // Node status needs Sys.Audit on /nodes/{node} (B-PERM-3); without it the hypervisor version is left out.
    const status: { kversion?: string; pveversion?: string } = await this.b.api
      .get<{ kversion?: string; pveversion?: string }>(`${this.b.nodePath}/status`)
      .catch((e: unknown) => (e instanceof AuthFailed ? {} : Promise.reject(e)));
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
    for (const r of await this.b.vmList()) {
      const tags = parseTags(r.tags);
      if (!tags.owned || !tags.runId || r.template) continue;
      // The id is the SMBIOS UUID, as in every VmRef, so the sweeper can delete it through the driver.
      const uuid = smbiosUuid((await this.b.config(r.vmid).catch(() => undefined))?.smbios1);
      if (uuid) this.b.ids.set(uuid, r.vmid);
      out.push({ kind: 'vm', id: uuid ?? `${this.b.c.node}/${r.vmid}`, name: r.name ?? '', runId: tags.runId });
    }
    for (const b of await this.b.backupVolumes())
      if (b.runId) out.push({ kind: 'backup', id: b.volid, name: b.volid, runId: b.runId });
    return out;
  }

  async close(): Promise<void> {
    await this.b.api.close();
  }
}
