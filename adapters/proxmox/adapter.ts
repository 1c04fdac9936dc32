/**
 * The Proxmox VE driver: QEMU VMs on one node through the REST API (api2/json). VMs are linked
 * clones of a template (the image); identity is the SMBIOS type 1 UUID the adapter writes; ownership
 * and placement are tags, free-form metadata a JSON line in the description; the guest-side view
 * comes from the QEMU guest agent; events come from polling /cluster/tasks (PVE has no push events).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigInvalid, isVmconformError } from '../../evidence/errors.js';
import type { Transcript } from '../../evidence/transcript.js';
import type { GuestReport } from '../../host/guest/report.js';
import { defaultWaitPolicies, type WaitOperation, type WaitPolicy, waitFor } from '../../host/wait.js';
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
  type Placement,
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
} from '../contract/index.js';
import type { TlsOptions } from '../http/client.js';
import { type Params, ProxmoxClient } from './client.js';
import {
  agentReport,
  buildDescription,
  buildNet,
  buildTags,
  type ClusterResource,
  hostsFromResources,
  isUpid,
  mapPowerState,
  nextNetSlot,
  nextVirtioSlot,
  type PveVersion,
  parseConfig,
  parseDisks,
  parseNet,
  parseTags,
  parseTaskStatus,
  parseUpid,
  parseVersion,
  resizeReturnsUpid,
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

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const guestLogPath = '/var/log/vmc/guest.log';

interface Located {
  vmid: number;
  node: string;
  config: Record<string, string>;
}

export class ProxmoxDriver implements Driver {
  readonly platform = 'proxmox' as const;
  private readonly api: ProxmoxClient;
  private versionInfo: PveVersion | undefined;
  /** SMBIOS UUID -> vmid; always re-checked against the config before use. */
  private readonly ids = new Map<string, number>();
  private readonly guestCache = new Map<string, GuestReport>();

  constructor(
    private readonly c: ProxmoxConfig,
    private readonly ctx: { runId: string; transcript: Transcript },
  ) {
    this.api = new ProxmoxClient({
      baseUrl: c.baseUrl,
      tokenId: c.tokenId,
      tokenSecret: c.tokenSecret,
      tls: c.tls,
      transcript: ctx.transcript,
    });
  }

  private policy(op: WaitOperation): WaitPolicy {
    return this.c.waits?.[op] ?? defaultWaitPolicies[op];
  }

  private get nodePath() {
    return `/nodes/${encodeURIComponent(this.c.node)}`;
  }

  /** The config says simulator, or the endpoint itself said so (read after version()). */
  private get simulated(): boolean {
    return this.c.simulator || this.api.simulatorSeen;
  }

  /** /version is read first: behaviour that differs between releases keys off it. */
  async version(): Promise<PveVersion> {
    this.versionInfo ??= parseVersion(await this.api.get<{ version: string; release: string }>('/version'));
    return this.versionInfo;
  }

  async capabilities(): Promise<Capabilities> {
    await this.version();
    return {
      instanceType: 'vm',
      evidence: this.simulated ? 'simulated' : 'real',
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
      prereqMissing: this.c.prereqMissing,
    };
  }

  async platformInfo(): Promise<PlatformInfo> {
    const v = await this.version();
    const status = await this.api.get<{ kversion?: string; pveversion?: string }>(`${this.nodePath}/status`);
    return {
      platform: 'proxmox',
      product: this.simulated ? 'Proxmox VE (vmconform API simulator)' : 'Proxmox VE',
      version: v.version,
      apiVersion: 'api2/json',
      ...(status.pveversion ? { hypervisor: `${status.pveversion}; ${status.kversion ?? ''}`.trim() } : {}),
      accel: this.simulated ? 'simulated' : 'kvm',
      endpoint: this.c.baseUrl,
    };
  }

  private resources(type?: 'vm' | 'node' | 'storage') {
    return this.api.get<ClusterResource[]>('/cluster/resources', type ? { type } : {});
  }

  async hosts(): Promise<Host[]> {
    return hostsFromResources(await this.resources(), this.c.placement);
  }

  // ---- identity -------------------------------------------------------------------------------

  private async config(vmid: number): Promise<Record<string, string>> {
    return this.api.get<Record<string, string>>(`${this.nodePath}/qemu/${vmid}/config`);
  }

  /** VmRef (SMBIOS UUID) -> vmid and config on this node, or NotFound. */
  private async locate(vm: VmRef): Promise<Located> {
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

  private async mine(vm: VmRef): Promise<Located> {
    const l = await this.locate(vm);
    if (!parseTags(l.config.tags).owned)
      throw new NotOwned(`proxmox: VM ${l.vmid} (${vm.name}) has no '${ownershipMarker}' tag; refusing to touch it`);
    return l;
  }

  // ---- tasks ----------------------------------------------------------------------------------

  /**
   * A mutating call: sends it once, follows the UPID it returns under the operation's wait policy.
   * `VM is locked` means Proxmox refused before doing anything, so that one refusal is retried
   * after waiting for the lock, never a call whose outcome is unknown.
   */
  private async mutate(
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

  private receipt<T>(r: Receipt<unknown>, result: T): Receipt<T> {
    return { ...r, result };
  }

  // ---- create ---------------------------------------------------------------------------------

  private async template(image: string): Promise<{ vmid: number; config: Record<string, string> }> {
    for (const r of await this.resources('vm'))
      if (r.type === 'qemu' && r.template && r.name === image && r.vmid !== undefined)
        return { vmid: r.vmid, config: await this.config(r.vmid) };
    throw new NotFound(`proxmox: image '${image}' not found (no template VM named '${image}' on node ${this.c.node})`);
  }

  private async writeSnippets(vmid: number, name: string, userData: string): Promise<string> {
    if (!this.c.snippetsDir)
      throw new Unsupported(
        'user data needs a snippets directory (platforms.proxmox.snippetsDir): the Proxmox API cannot upload snippets',
        'adapter',
      );
    await mkdir(this.c.snippetsDir, { recursive: true });
    const user = `vmc-${vmid}-user.yaml`;
    const meta = `vmc-${vmid}-meta.yaml`;
    await writeFile(join(this.c.snippetsDir, user), userData);
    await writeFile(join(this.c.snippetsDir, meta), `instance-id: ${name}\nlocal-hostname: ${name}\n`);
    return `user=${this.c.snippetStorage}:snippets/${user},meta=${this.c.snippetStorage}:snippets/${meta}`;
  }

  /** The description line holding this run's ownership record and the caller's metadata. */
  private ownedDescription(metadata: Record<string, string>): string {
    return buildDescription({
      owner: { marker: ownershipMarker, runId: this.ctx.runId, createdAt: new Date().toISOString() },
      metadata,
    });
  }

  private diskValue(d: DiskSpec): string {
    // Proxmox allocates in GiB (fractions allowed): STORAGE:SIZE_IN_GiB.
    const gib = Number((d.sizeBytes / GiB).toFixed(6));
    return `${this.c.storage}:${gib},serial=${d.serial ?? d.name}`;
  }

  private nicValue(n: NicSpec): string {
    return buildNet({ mac: n.mac ?? randomMac(), network: n.network, ...(n.vlan ? { vlan: n.vlan } : {}) });
  }

  async create(spec: VmSpec): Promise<Receipt<VmRef>> {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9.-]*$/.test(spec.name))
      throw new ConfigInvalid(`spec.name: '${spec.name}' is not a DNS name (Proxmox VM names must be)`);
    const t0 = performance.now();
    const tpl = await this.template(spec.image);
    // Checked by name before anything is sent: a create is never repeated blindly.
    const taken = (await this.resources('vm')).find((r) => r.name === spec.name && !r.template);
    if (taken) throw new Conflict(`proxmox: a VM named '${spec.name}' already exists (vmid ${taken.vmid})`);
    const uuid = randomUUID();
    let clone: Receipt<string | null> | undefined;
    let vmid = 0;
    // /cluster/nextid only proposes a free VMID: concurrent creates get the same one and all but the first
    // are refused ("config file already exists"). That refusal created nothing, so a fresh VMID is safe.
    // Each round one creator wins, so the losers wait a random while (spreading them out) and ask again:
    // 8 at once from one harness needed more than the 5 plain retries there were (measured by npm run bench).
    for (let attempt = 1; !clone; attempt++) {
      if (attempt > 1) await new Promise((r) => setTimeout(r, Math.random() * 150 * attempt));
      vmid = await this.api.get<number | string>('/cluster/nextid').then(Number);
      try {
        clone = await this.mutate(
          'POST',
          `${this.nodePath}/qemu/${tpl.vmid}/clone`,
          { newid: vmid, name: spec.name, full: 0, ...(this.c.pool ? { pool: this.c.pool } : {}) },
          'create',
        );
      } catch (e) {
        if (attempt < 12 && e instanceof Error && /unable to create VM \d+: config file already exists/.test(e.message))
          continue;
        // The clone may or may not exist (a transport error after sending): look by VMID and name, remove only ours.
        await this.removeHalfMade(vmid, spec.name);
        throw e;
      }
    }
    try {
      const params: Params = {
        cores: spec.vcpus,
        memory: spec.memoryMiB,
        smbios1: `uuid=${uuid}`,
        tags: buildTags(this.ctx.runId, spec.placement),
        description: this.ownedDescription(spec.metadata),
        agent: 1,
        ...(spec.firmware === 'uefi' ? { bios: 'ovmf' } : {}),
      };
      for (const [i, n] of spec.nics.entries()) params[`net${i}`] = this.nicValue(n);
      for (const [i, d] of spec.disks.entries()) params[`virtio${i + 1}`] = this.diskValue(d);
      if (spec.userData !== undefined) {
        params.ide2 = `${this.c.storage}:cloudinit`;
        params.cicustom = await this.writeSnippets(vmid, spec.name, spec.userData);
      }
      await this.mutate('POST', `${this.nodePath}/qemu/${vmid}/config`, params, 'create');
    } catch (e) {
      await this.removeHalfMade(vmid, spec.name);
      throw e;
    }
    this.ids.set(uuid, vmid);
    return { ...clone, result: { id: uuid, name: spec.name }, doneMs: performance.now() - t0 };
  }

  /** Deletes a VM this create made, identified by VMID and name together, so nothing is left half-made (OBS-03). */
  private async removeHalfMade(vmid: number, name: string): Promise<void> {
    const found = (await this.resources('vm').catch(() => [])).find((r) => r.vmid === vmid && r.name === name);
    if (!found) return;
    await waitFor(`clone lock on ${vmid} to clear`, this.policy('create'), async () => {
      const cfg = await this.config(vmid).catch(() => ({}) as Record<string, string>);
      return cfg.lock ? undefined : true;
    }).catch(() => undefined);
    await this.mutate(
      'DELETE',
      `${this.nodePath}/qemu/${vmid}`,
      { purge: 1, 'destroy-unreferenced-disks': 1 },
      'delete',
    ).catch(() => undefined);
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  private async power(vmid: number): Promise<{ status: string; qmpstatus?: string; lock?: string }> {
    return this.api.get(`${this.nodePath}/qemu/${vmid}/status/current`);
  }

  async start(vm: VmRef): Promise<Receipt> {
    const l = await this.mine(vm);
    const r = await this.mutate('POST', `${this.nodePath}/qemu/${l.vmid}/status/start`, {}, 'start');
    return this.receipt(r, undefined);
  }

  async stop(vm: VmRef, opts: StopOptions): Promise<Receipt> {
    const l = await this.mine(vm);
    const r = opts.force
      ? await this.mutate('POST', `${this.nodePath}/qemu/${l.vmid}/status/stop`, {}, 'stop-forced')
      : await this.mutate(
          'POST',
          `${this.nodePath}/qemu/${l.vmid}/status/shutdown`,
          { timeout: Math.round(this.policy('stop-graceful').deadlineMs / 1000), forceStop: 0 },
          'stop-graceful',
          // The agent answers only until the guest powers off: read its log while it shuts down.
          async () =>
            void (await this.guest(vm)
              .read()
              .catch(() => undefined)),
        );
    return this.receipt(r, undefined);
  }

  async reboot(vm: VmRef): Promise<Receipt> {
    const l = await this.mine(vm);
    const r = await this.mutate('POST', `${this.nodePath}/qemu/${l.vmid}/status/reboot`, {}, 'reboot');
    return this.receipt(r, undefined);
  }

  async delete(vm: VmRef): Promise<Receipt> {
    const l = await this.mine(vm);
    if ((await this.power(l.vmid)).status === 'running')
      await this.mutate('POST', `${this.nodePath}/qemu/${l.vmid}/status/stop`, {}, 'stop-forced');
    const r = await this.mutate(
      'DELETE',
      `${this.nodePath}/qemu/${l.vmid}`,
      { purge: 1, 'destroy-unreferenced-disks': 1 },
      'delete',
    );
    this.ids.delete(vm.id);
    this.guestCache.delete(vm.id);
    return this.receipt(r, undefined);
  }

  async rename(vm: VmRef, newName: string): Promise<Receipt<VmRef>> {
    const l = await this.mine(vm);
    const r = await this.mutate('POST', `${this.nodePath}/qemu/${l.vmid}/config`, { name: newName }, 'device');
    return this.receipt(r, { id: vm.id, name: newName });
  }

  async reconfigure(vm: VmRef, change: Resize): Promise<Receipt> {
    const l = await this.mine(vm);
    const r = await this.mutate(
      'POST',
      `${this.nodePath}/qemu/${l.vmid}/config`,
      { ...(change.vcpus ? { cores: change.vcpus } : {}), ...(change.memoryMiB ? { memory: change.memoryMiB } : {}) },
      'device',
    );
    return this.receipt(r, undefined);
  }

  async inspect(vm: VmRef): Promise<VmState> {
    const l = await this.locate(vm);
    const p = await this.power(l.vmid);
    return {
      ref: { id: vm.id, name: l.config.name ?? '' },
      power: mapPowerState(p.status, p.qmpstatus, p.lock ?? l.config.lock),
      rawState: [p.status, p.qmpstatus, p.lock ?? l.config.lock].filter(Boolean).join('/'),
      config: parseConfig(l.config, this.c.externalBridges),
      source: `Proxmox VE qemu/${l.vmid}/config + status/current (JSON)`,
    };
  }

  async list(filter: { owner?: string; metadata?: Record<string, string> }): Promise<VmRef[]> {
    const out: VmRef[] = [];
    for (const r of await this.resources('vm')) {
      if (r.type !== 'qemu' || r.node !== this.c.node || r.template || r.vmid === undefined) continue;
      const tags = parseTags(r.tags);
      if (filter.owner && !(tags.owned && tags.runId === filter.owner)) continue;
      const config = await this.config(r.vmid).catch(() => undefined);
      const uuid = smbiosUuid(config?.smbios1);
      if (!config || !uuid) continue;
      this.ids.set(uuid, r.vmid);
      if (filter.metadata) {
        const md = parseConfig(config).metadata;
        if (!Object.entries(filter.metadata).every(([k, v]) => md[k] === v)) continue;
      }
      out.push({ id: uuid, name: config.name ?? '' });
    }
    return out;
  }

  async owned(): Promise<OwnedObject[]> {
    const out: OwnedObject[] = [];
    for (const r of await this.resources('vm')) {
      const tags = parseTags(r.tags);
      if (r.type !== 'qemu' || !tags.owned || !tags.runId || r.template || r.vmid === undefined) continue;
      // The id is the SMBIOS UUID, as in every VmRef, so the sweeper can delete it through the driver.
      const uuid = smbiosUuid((await this.config(r.vmid).catch(() => undefined))?.smbios1);
      if (uuid) this.ids.set(uuid, r.vmid);
      out.push({ kind: 'vm', id: uuid ?? `${r.node}/${r.vmid}`, name: r.name ?? '', runId: tags.runId });
    }
    for (const b of await this.backupVolumes())
      if (b.runId) out.push({ kind: 'backup', id: b.volid, name: b.volid, runId: b.runId });
    return out;
  }

  // ---- disks ----------------------------------------------------------------------------------

  async attachDisk(vm: VmRef, disk: DiskSpec): Promise<Receipt<AttachedDisk>> {
    const l = await this.mine(vm);
    const slot = nextVirtioSlot(l.config);
    const serial = disk.serial ?? disk.name;
    let r: Receipt<unknown>;
    if (disk.volumeId) {
      // An existing volume belongs to one VM (its unusedN); move_disk reassigns it to this VM.
      const from = await this.volumeOwner(disk.volumeId);
      const moved = await this.mutate(
        'POST',
        `${this.nodePath}/qemu/${from.vmid}/move_disk`,
        { disk: from.slot, 'target-vmid': l.vmid, 'target-disk': slot },
        'device',
      );
      const cfg = await this.config(l.vmid);
      const volid = (cfg[slot] ?? '').split(',')[0] ?? '';
      await this.mutate(
        'POST',
        `${this.nodePath}/qemu/${l.vmid}/config`,
        { [slot]: `${volid},serial=${serial}` },
        'device',
      );
      r = moved;
    } else {
      r = await this.mutate(
        'POST',
        `${this.nodePath}/qemu/${l.vmid}/config`,
        { [slot]: this.diskValue(disk) },
        'device',
      );
    }
    const attached = parseDisks(await this.config(l.vmid)).find((d) => d.id === slot);
    if (!attached) throw new NotFound(`proxmox: ${slot} is not in VM ${l.vmid}'s config after attaching it`);
    return this.receipt(r, attached);
  }

  /** Which VM holds a volume, and in which slot (a disk slot or unusedN). */
  private async volumeOwner(volid: string): Promise<{ vmid: number; slot: string }> {
    for (const r of await this.resources('vm')) {
      if (r.type !== 'qemu' || r.vmid === undefined || r.node !== this.c.node) continue;
      const cfg = await this.config(r.vmid);
      for (const [k, v] of Object.entries(cfg))
        if (/^(virtio|scsi|sata|ide|unused)\d+$/.test(k) && String(v).split(',')[0] === volid) {
          if (!parseTags(cfg.tags).owned)
            throw new NotOwned(`proxmox: volume ${volid} belongs to VM ${r.vmid}, which is not ours`);
          return { vmid: r.vmid, slot: k };
        }
    }
    throw new NotFound(`proxmox: volume ${volid} is not referenced by any VM on node ${this.c.node}`);
  }

  /** Detach: the disk becomes unusedN (its volume is kept, as on Proxmox); deleteVolume removes it. */
  async detachDisk(vm: VmRef, diskId: string): Promise<Receipt> {
    const l = await this.mine(vm);
    if (!l.config[diskId]) throw new NotFound(`proxmox: VM ${l.vmid} has no disk ${diskId}`);
    const r = await this.mutate('POST', `${this.nodePath}/qemu/${l.vmid}/config`, { delete: diskId }, 'device');
    return this.receipt(r, undefined);
  }

  async resizeDisk(vm: VmRef, diskId: string, sizeBytes: number): Promise<Receipt> {
    const l = await this.mine(vm);
    const v = await this.version();
    const r = await this.mutate(
      'PUT',
      `${this.nodePath}/qemu/${l.vmid}/resize`,
      { disk: diskId, size: `${Math.ceil(sizeBytes / MiB)}M` },
      'device',
    );
    if (!resizeReturnsUpid(v) && r.handle.kind === 'none')
      r.handle.note = `PVE ${v.version} resizes synchronously and returns null (a task UPID from 8.0 on)`;
    return this.receipt(r, undefined);
  }

  private async storages(): Promise<
    {
      storage: string;
      type: string;
      content: string;
      active?: boolean;
      total?: number;
      used?: number;
      avail?: number;
    }[]
  > {
    return this.api.get(`${this.nodePath}/storage`);
  }

  async volumes(): Promise<Volume[]> {
    const users = new Map<string, string[]>();
    for (const r of await this.resources('vm')) {
      if (r.type !== 'qemu' || r.vmid === undefined || r.node !== this.c.node) continue;
      const cfg = await this.config(r.vmid);
      const uuid = smbiosUuid(cfg.smbios1) ?? `${r.node}/${r.vmid}`;
      for (const d of parseDisks(cfg)) users.set(d.volumeId, [...(users.get(d.volumeId) ?? []), uuid]);
    }
    const out: Volume[] = [];
    for (const s of await this.storages()) {
      if (!s.content.split(',').includes('images') || s.active === false) continue;
      const items = await this.api.get<
        { volid: string; size: number; used?: number; format: string; parent?: string }[]
      >(`${this.nodePath}/storage/${encodeURIComponent(s.storage)}/content`, { content: 'images' });
      for (const v of items)
        out.push({
          // A Proxmox volume is named by its volid (storage:volname); there is no separate name.
          id: v.volid,
          name: v.volid,
          sizeBytes: v.size,
          ...(v.used !== undefined ? { allocatedBytes: v.used } : {}),
          format: v.format,
          ...(v.parent ? { backing: `${s.storage}:${v.parent}` } : {}),
          attachedTo: users.get(v.volid) ?? [],
        });
    }
    return out;
  }

  async deleteVolume(volumeId: string): Promise<Receipt> {
    const owner = await this.volumeOwner(volumeId).catch((e: unknown) =>
      e instanceof NotFound ? undefined : Promise.reject(e),
    );
    if (owner && !owner.slot.startsWith('unused'))
      throw new Conflict(
        `proxmox: volume ${volumeId} is attached as ${owner.slot} of VM ${owner.vmid}; detach it first`,
      );
    if (owner) {
      const r = await this.mutate(
        'POST',
        `${this.nodePath}/qemu/${owner.vmid}/config`,
        { delete: owner.slot },
        'device',
      );
      return this.receipt(r, undefined);
    }
    // Unreferenced: only an owned VM's disk naming scheme could be ours, and no VM claims it, so refuse.
    throw new NotOwned(`proxmox: volume ${volumeId} is not held by any VM carrying the ownership tag; not deleting it`);
  }

  async storagePools(): Promise<StoragePool[]> {
    return (await this.storages()).map((s) => ({
      name: s.storage,
      type: s.type,
      active: s.active !== false,
      capacityBytes: s.total ?? 0,
      allocationBytes: s.used ?? 0,
      availableBytes: s.avail ?? 0,
    }));
  }

  async metrics(vm: VmRef): Promise<VmMetrics> {
    const l = await this.locate(vm);
    const s = await this.api.get<{
      mem?: number;
      diskread?: number;
      diskwrite?: number;
      netin?: number;
      netout?: number;
    }>(`${this.nodePath}/qemu/${l.vmid}/status/current`);
    const boot = parseDisks(l.config).find((d) => d.role === 'boot');
    // Proxmox reports CPU as a utilisation fraction, not cumulative time, and disk/net counters per VM, not per device.
    return {
      ...(s.mem !== undefined ? { memoryBytes: s.mem } : {}),
      disks: boot ? [{ target: `${boot.target}+all`, readBytes: s.diskread ?? 0, writeBytes: s.diskwrite ?? 0 }] : [],
      nics: [{ name: 'all', rxBytes: s.netin ?? 0, txBytes: s.netout ?? 0 }],
    };
  }

  async hostMetrics(): Promise<HostMetrics> {
    throw new Unsupported(
      'Proxmox VE reports host CPU as a utilisation fraction (nodes/{node}/status cpu), not cumulative user/system/idle time',
      'platform',
    );
  }

  // ---- NICs -----------------------------------------------------------------------------------

  async attachNic(vm: VmRef, nic: NicSpec): Promise<Receipt<AttachedNic>> {
    const l = await this.mine(vm);
    const slot = nextNetSlot(l.config);
    const value = this.nicValue(nic);
    const r = await this.mutate('POST', `${this.nodePath}/qemu/${l.vmid}/config`, { [slot]: value }, 'device');
    const cfg = await this.config(l.vmid);
    return this.receipt(r, parseNet(slot, cfg[slot] ?? value, this.c.externalBridges));
  }

  async detachNic(vm: VmRef, mac: string): Promise<Receipt> {
    const l = await this.mine(vm);
    const slot = Object.keys(l.config).find(
      (k) => /^net\d+$/.test(k) && parseNet(k, l.config[k] ?? '').mac === mac.toLowerCase(),
    );
    if (!slot) throw new NotFound(`proxmox: VM ${l.vmid} has no NIC with MAC ${mac}`);
    const r = await this.mutate('POST', `${this.nodePath}/qemu/${l.vmid}/config`, { delete: slot }, 'device');
    return this.receipt(r, undefined);
  }

  async networks(): Promise<Network[]> {
    const ifaces = await this.api.get<{ iface: string; type: string; active?: boolean }[]>(`${this.nodePath}/network`, {
      type: 'any_bridge',
    });
    return ifaces.map((i) => ({ name: i.iface, kind: 'platform', bridge: i.iface, active: i.active !== false }));
  }

  // ---- images ---------------------------------------------------------------------------------

  async images(): Promise<Image[]> {
    const out: Image[] = [];
    for (const r of await this.resources('vm')) {
      if (r.type !== 'qemu' || !r.template || r.vmid === undefined) continue;
      const boot = parseDisks(await this.config(r.vmid)).find((d) => d.role === 'boot');
      out.push({
        id: r.name ?? String(r.vmid),
        name: r.name ?? String(r.vmid),
        format: boot?.format ?? 'raw',
        sizeBytes: boot?.sizeBytes ?? 0,
      });
    }
    return out;
  }

  async importImage(_src: ImageSource): Promise<Receipt<Image>> {
    throw new Unsupported(
      'image import (upload to an import storage, then a template VM) is not implemented for Proxmox yet',
      'adapter',
    );
  }

  async deleteImage(_id: string): Promise<Receipt> {
    throw new Unsupported('image (template) deletion is not implemented for Proxmox yet', 'adapter');
  }

  // ---- backup ---------------------------------------------------------------------------------

  private async backupVolumes(): Promise<
    { volid: string; size: number; ctime?: number; vmid?: number; notes?: string; runId?: string }[]
  > {
    const items = await this.api.get<{ volid: string; size: number; ctime?: number; vmid?: number; notes?: string }[]>(
      `${this.nodePath}/storage/${encodeURIComponent(this.c.backupStorage)}/content`,
      { content: 'backup' },
    );
    return items.map((b) => {
      const run = /^vmconform run=(\S+)/.exec(b.notes ?? '')?.[1];
      return { ...b, ...(run ? { runId: run } : {}) };
    });
  }

  async backup(vm: VmRef): Promise<Receipt<Backup>> {
    const l = await this.mine(vm);
    const before = new Set((await this.backupVolumes()).map((b) => b.volid));
    const r = await this.mutate(
      'POST',
      `${this.nodePath}/vzdump`,
      {
        vmid: l.vmid,
        storage: this.c.backupStorage,
        mode: 'snapshot',
        compress: 'zstd',
        'notes-template': `vmconform run=${this.ctx.runId} vm={{guestname}}`,
      },
      'task',
    );
    const made = (await this.backupVolumes()).find((b) => !before.has(b.volid) && b.vmid === l.vmid);
    if (!made)
      throw new NotFound(`proxmox: vzdump of VM ${l.vmid} succeeded but no new archive is in ${this.c.backupStorage}`);
    return this.receipt(r, {
      id: made.volid,
      vm,
      createdAt: new Date((made.ctime ?? Date.now() / 1000) * 1000).toISOString(),
      sizeBytes: made.size,
      location: this.c.backupStorage,
    });
  }

  async restore(backup: Backup, opts: RestoreOptions): Promise<Receipt<VmRef>> {
    const t0 = performance.now();
    const vmid = await this.api.get<number | string>('/cluster/nextid').then(Number);
    const r = await this.mutate(
      'POST',
      `${this.nodePath}/qemu`,
      { vmid, archive: backup.id, storage: this.c.storage, unique: 1, ...(this.c.pool ? { pool: this.c.pool } : {}) },
      'create',
    );
    const uuid = randomUUID();
    const cfg = await this.config(vmid);
    await this.mutate(
      'POST',
      `${this.nodePath}/qemu/${vmid}/config`,
      {
        name: opts.name,
        smbios1: `uuid=${uuid}`,
        tags: buildTags(this.ctx.runId, opts.placement),
        description: this.ownedDescription(parseConfig(cfg).metadata),
      },
      'device',
    );
    this.ids.set(uuid, vmid);
    return {
      result: { id: uuid, name: opts.name },
      handle: r.handle,
      acceptedMs: r.acceptedMs,
      doneMs: performance.now() - t0,
    };
  }

  async deleteBackup(id: string): Promise<Receipt> {
    const b = (await this.backupVolumes()).find((x) => x.volid === id);
    if (!b) throw new NotFound(`proxmox: no backup ${id} in ${this.c.backupStorage}`);
    if (!b.runId) throw new NotOwned(`proxmox: backup ${id} carries no vmconform note; not deleting it`);
    const r = await this.mutate(
      'DELETE',
      `${this.nodePath}/storage/${encodeURIComponent(this.c.backupStorage)}/content/${encodeURIComponent(id)}`,
      {},
      'task',
    );
    return this.receipt(r, undefined);
  }

  async backups(): Promise<Backup[]> {
    const out: Backup[] = [];
    for (const b of await this.backupVolumes()) {
      if (!b.runId) continue;
      const name = /vm=(\S+)/.exec(b.notes ?? '')?.[1] ?? '';
      out.push({
        id: b.volid,
        vm: { id: '', name },
        createdAt: new Date((b.ctime ?? 0) * 1000).toISOString(),
        sizeBytes: b.size,
        location: this.c.backupStorage,
      });
    }
    return out;
  }

  async exportVolume(
    _volumeId: string,
    _dest: { path: string; format: VolumeFile['format'] },
  ): Promise<Receipt<VolumeFile>> {
    throw new Unsupported(
      'the Proxmox VE API has no endpoint to download a VM disk volume (vzdump archives are the export path)',
      'platform',
    );
  }

  async importVolume(_name: string, _src: VolumeFile): Promise<Receipt<Volume>> {
    throw new Unsupported(
      'volume import (upload to an import storage, then import-from) is not implemented for Proxmox yet',
      'adapter',
    );
  }

  /** The VM's task logs (start, stop, config, ...), newest last: Proxmox serves no serial console log over REST. */
  async consoleLog(vm: VmRef): Promise<string> {
    const l = await this.locate(vm);
    const tasks = await this.api.get<{ upid: string; type: string; status?: string }[]>(`${this.nodePath}/tasks`, {
      vmid: l.vmid,
      limit: 20,
    });
    const parts: string[] = [];
    for (const t of [...tasks].reverse()) parts.push(`== ${t.upid}`, ...(await this.api.taskLog(t.upid)));
    return `${parts.join('\n')}\n`;
  }

  // ---- events, tasks, guest -------------------------------------------------------------------

  /**
   * Polls /cluster/tasks (Proxmox has no push events): one event when a task is first seen and one when it
   * ends. A clone's task names its source (the template), and vmids are reused, so the VM list is read on
   * every poll too: a VM that appears or goes is an event of its own (defined / deleted), and task ids
   * map to the names VMs have now.
   */
  async *events(signal: AbortSignal): AsyncIterable<PlatformEvent> {
    const seen = new Map<string, string>();
    let names = new Map<string, string>();
    let first = true;
    // The poll interval, declared as a wait policy (a quarter second between /cluster/tasks reads).
    const poll: WaitPolicy = { deadlineMs: 5_000, intervalMs: 50, backoff: 1, maxIntervalMs: 50 };
    while (!signal.aborted) {
      const tasks = await this.api
        .get<
          {
            upid: string;
            type?: string;
            id?: string;
            status?: string;
            starttime?: number;
            endtime?: number;
            exitstatus?: string;
          }[]
        >('/cluster/tasks')
        .catch(() => []);
      const vms = await this.resources('vm').catch(() => undefined);
      const out: PlatformEvent[] = [];
      if (vms) {
        const now = new Map<string, string>();
        for (const r of vms) if (r.vmid !== undefined && r.name) now.set(String(r.vmid), r.name);
        const change = (vm: string, detail: string, raw: string): PlatformEvent => ({
          receivedAt: Date.now(),
          vm,
          kind: 'lifecycle',
          detail,
          source: 'poll',
          raw,
        });
        if (!first) {
          for (const [id, name] of now)
            if (names.get(id) !== name)
              out.push(change(name, 'defined', `vmid ${id} ${names.get(id) ?? '-'} -> ${name}`));
          for (const [id, name] of names)
            if (now.get(id) !== name)
              out.push(change(name, 'deleted', `vmid ${id} ${name} -> ${now.get(id) ?? 'gone'}`));
        }
        names = now;
      }
      for (const t of tasks) {
        const state = t.endtime ? `stopped ${t.exitstatus ?? t.status ?? ''}`.trim() : 'running';
        if (seen.get(t.upid) === state) continue;
        seen.set(t.upid, state);
        if (first) continue;
        const u = parseUpid(t.upid);
        const type = t.type ?? u.type;
        out.push({
          receivedAt: Date.now(),
          platformAt: new Date(((t.endtime ?? t.starttime ?? u.starttime) as number) * 1000).toISOString(),
          ...(names.get(t.id ?? u.id) ? { vm: names.get(t.id ?? u.id) as string } : {}),
          kind: /^qm(start|stop|shutdown|reboot|destroy|create|clone|restore)$/.test(type)
            ? 'lifecycle'
            : type === 'qmconfig'
              ? 'config'
              : 'task',
          detail: `${type} ${state}`,
          source: 'poll',
          raw: JSON.stringify(t),
        });
      }
      first = false;
      for (const e of out) yield e;
      const next = Date.now() + 250;
      // No signal passed: the loop checks it each round, and a signal per wait would pile up listeners.
      await waitFor('next /cluster/tasks poll', poll, async () =>
        Date.now() >= next || signal.aborted ? true : undefined,
      );
    }
  }

  async task(handle: TaskHandle): Promise<TaskInfo> {
    if (handle.kind !== 'task' || !handle.id)
      throw new NotFound(`proxmox: handle ${JSON.stringify(handle)} is not a task UPID`);
    const u = parseUpid(handle.id);
    const s = await this.api.get<{ status: string; exitstatus?: string; starttime?: number }>(
      `/nodes/${encodeURIComponent(u.node)}/tasks/${encodeURIComponent(handle.id)}/status`,
    );
    let endtime: number | undefined;
    if (s.status === 'stopped') {
      const row = (
        await this.api.get<{ upid: string; endtime?: number }[]>(`/nodes/${encodeURIComponent(u.node)}/tasks`, {
          vmid: Number(u.id) || undefined,
          limit: 500,
        })
      ).find((t) => t.upid === handle.id);
      endtime = row?.endtime;
    }
    return parseTaskStatus(handle.id, s, endtime);
  }

  guest(vm: VmRef): GuestProbe {
    return {
      kind: 'agent',
      read: async () => {
        const l = await this.locate(vm);
        const base = `${this.nodePath}/qemu/${l.vmid}/agent`;
        const cached = () => this.guestCache.get(vm.id) ?? { events: [], malformed: [], partial: undefined };
        // The agent answers only while the guest runs: between runs the probe returns what it last read.
        if ((await this.power(l.vmid)).status !== 'running') return cached();
        try {
          const file = await this.api.get<{ content: string }>(`${base}/file-read`, { file: guestLogPath });
          const ifs = await this.api.get<{ result?: { name: string; 'hardware-address'?: string }[] }>(
            `${base}/network-get-interfaces`,
          );
          const report = agentReport(file.content, ifs.result);
          this.guestCache.set(vm.id, report);
          return report;
        } catch (e) {
          if (isVmconformError(e) && /guest agent|not running/i.test(e.message)) return cached();
          throw e;
        }
      },
    };
  }

  async close(): Promise<void> {
    await this.api.close();
  }
}

/** A locally administered MAC in Proxmox's own OUI range style (BC:24:11 is what PVE generates). */
function randomMac(): string {
  return `bc:24:11:${[...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
}
