import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
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
  type OwnershipTag,
  ownershipMarker,
  PlatformError,
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
import type { HttpResponse, RequestOptions } from '../http/client.js';
import type { OpenStackSession, ServiceType } from './client.js';
import {
  actionStatus,
  attachedDisks,
  attachedNics,
  type CinderPool,
  type CinderVolume,
  failureDomainOfHost,
  faultError,
  flavorName,
  type GlanceImage,
  gibCeil,
  type InstanceAction,
  type InterfaceAttachment,
  type Inventory,
  mapPower,
  type NeutronNetwork,
  type NovaServer,
  ownerOf,
  ownershipMetadata,
  ownKeys,
  runTag,
  toHost,
  toImage,
  toStoragePool,
  toVmMetrics,
  toVolume,
  userMetadata,
  type VolumeAttachment,
  volumeUuid,
  zoneOfHost,
} from './mapping.js';

export interface OpenStackConfig {
  endpoint: string;
  /** The base image (Glance id or name). */
  image: string;
  bootDiskBytes: number;
  /** A bridge the platform did not create and the provider network that stands for it (NIC-05). */
  externalBridge?: string;
  externalNetwork?: string;
  /** Evidence label from the lab; the simulator's own header forces 'simulated' regardless. */
  evidence: Capabilities['evidence'];
  prereqMissing: Capabilities['prereqMissing'];
  waits?: Partial<Record<WaitOperation, WaitPolicy>>;
}

export interface DriverContext {
  runId: string;
  transcript: Transcript;
}

const marker = ownershipMarker;

/** Cinder backup metadata keys that tie a VM's volume backups together and keep what restore needs. */
const backupKeys = {
  group: 'vmconform:backup-group',
  device: 'vmconform:device',
  vm: 'vmconform:vm',
  shape: 'vmconform:shape',
  nets: 'vmconform:networks',
  meta: 'vm-meta:',
} as const;

interface RawBackup {
  id: string;
  name: string;
  volume_id: string;
  status: string;
  size: number;
  created_at: string;
  container?: string;
  metadata?: Record<string, string>;
}

export class OpenStackDriver implements Driver {
  readonly platform = 'openstack' as const;
  private readonly netCache = new Map<string, NeutronNetwork>();

  constructor(
    private readonly cfg: OpenStackConfig,
    readonly session: OpenStackSession,
    private readonly ctx: DriverContext,
  ) {}

  private policy(op: WaitOperation): WaitPolicy {
    return this.cfg.waits?.[op] ?? defaultWaitPolicies[op];
  }

  private call<T = unknown>(
    svc: ServiceType,
    method: string,
    path: string,
    ro?: RequestOptions,
  ): Promise<HttpResponse<T>> {
    return this.session.call<T>(svc, method, path, ro);
  }

  private nova<T = unknown>(method: string, path: string, ro?: RequestOptions) {
    return this.call<T>('compute', method, path, ro);
  }

  private tag(): OwnershipTag {
    return { marker, runId: this.ctx.runId, createdAt: new Date().toISOString() };
  }

  async capabilities(): Promise<Capabilities> {
    await this.session.client('compute');
    return {
      instanceType: 'vm',
      evidence: this.session.simulator ? 'simulated' : this.cfg.evidence,
      hotplugDisk: true,
      hotplugNic: true,
      // Cinder extends in-use volumes from volume API 3.42.
      resizeDisk: 'online',
      rename: 'any-state',
      taskHandles: true,
      // Nova publishes notifications only on its message bus; through the API, changes are polled.
      events: 'poll',
      guestView: 'serial-console',
      metadataFilter: 'adapter',
      externalBridge: !!this.cfg.externalNetwork,
      hostMaintenance: 'evacuate-live',
      prereqMissing: this.cfg.prereqMissing,
    };
  }

  async platformInfo(): Promise<PlatformInfo> {
    await Promise.all([
      this.session.client('compute'),
      this.session.client('volumev3'),
      this.session.client('placement'),
    ]);
    const p = this.session.pinned;
    const c = p.compute;
    return {
      platform: 'openstack',
      product: this.session.simulator ? 'OpenStack (vmconform simulator of the Zed APIs)' : 'OpenStack',
      // The APIs expose no release name: the compute API's maximum microversion identifies the release.
      version: c ? `compute ${c.serverMax}` : 'unknown',
      apiVersion: `compute ${c?.pinned} (server ${c?.serverMin}-${c?.serverMax}), volume ${p.volume?.pinned}, placement ${p.placement?.pinned}`,
      hypervisor: (await this.hypervisors())[0]?.hypervisor_type ?? 'unknown',
      accel: this.session.simulator ? 'simulated' : 'tcg',
      endpoint: this.cfg.endpoint,
    };
  }

  private async hypervisors() {
    return (
      await this.nova<{
        hypervisors: {
          id: string;
          hypervisor_hostname: string;
          hypervisor_type?: string;
          service?: { host?: string };
        }[];
      }>('GET', '/os-hypervisors/detail')
    ).body.hypervisors;
  }

  async hosts(): Promise<Host[]> {
    const [hyps, zones, aggs] = await Promise.all([
      this.hypervisors(),
      this.nova('GET', '/os-availability-zone/detail').then((r) => r.body),
      this.nova('GET', '/os-aggregates').then((r) => r.body),
    ]);
    const out: Host[] = [];
    for (const h of hyps) {
      // Since compute 2.53 the hypervisor id is the Placement resource provider uuid.
      const inv = await this.call<{ inventories: Record<string, Inventory> }>(
        'placement',
        'GET',
        `/resource_providers/${h.id}/inventories`,
      );
      const use = await this.call<{ usages: Record<string, number> }>(
        'placement',
        'GET',
        `/resource_providers/${h.id}/usages`,
      );
      const host = h.service?.host ?? h.hypervisor_hostname;
      const site = zoneOfHost(zones, host);
      const fd = failureDomainOfHost(aggs, host);
      out.push(
        toHost({
          hypervisor: h,
          inventories: inv.body.inventories,
          usages: use.body.usages,
          ...(site ? { site } : {}),
          ...(fd ? { failureDomain: fd } : {}),
        }),
      );
    }
    return out;
  }

  // ---- helpers ---------------------------------------------------------------------------------
  private async server(id: string): Promise<NovaServer> {
    return (await this.nova<{ server: NovaServer }>('GET', `/servers/${id}`)).body.server;
  }

  private async serversNamed(name: string): Promise<NovaServer[]> {
    const re = `^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;
    return (
      await this.nova<{ servers: NovaServer[] }>('GET', '/servers/detail', { query: { name: re } })
    ).body.servers.filter((s) => s.name === name);
  }

  private async ensureOwned(vm: VmRef): Promise<NovaServer> {
    const s = await this.server(vm.id);
    if (!ownerOf(s.metadata))
      throw new NotOwned(`refusing to touch server '${s.name}' (${s.id}): it carries no vmconform ownership metadata`);
    return s;
  }

  private async network(name: string): Promise<NeutronNetwork> {
    const cached = [...this.netCache.values()].find((n) => n.name === name);
    if (cached) return cached;
    const r = await this.call<{ networks: NeutronNetwork[] }>('network', 'GET', '/v2.0/networks', { query: { name } });
    const n = r.body.networks[0];
    if (!n) throw new NotFound(`openstack: no Neutron network named '${name}'`);
    if (r.body.networks.length > 1)
      throw new Conflict(`openstack: ${r.body.networks.length} Neutron networks are named '${name}'`);
    this.netCache.set(n.id, n);
    return n;
  }

  private async networkById(id: string): Promise<NeutronNetwork | undefined> {
    if (!this.netCache.has(id)) {
      const r = await this.call<{ network: NeutronNetwork }>('network', 'GET', `/v2.0/networks/${id}`).catch((e) =>
        e instanceof NotFound ? undefined : Promise.reject(e),
      );
      if (r) this.netCache.set(id, r.body.network);
    }
    return this.netCache.get(id);
  }

  private async nicNetwork(nic: NicSpec): Promise<NeutronNetwork> {
    if (!nic.external) return this.network(nic.network);
    if (!this.cfg.externalNetwork || nic.network !== this.cfg.externalBridge)
      throw new NotFound(
        `openstack: bridge '${nic.network}' is not mapped to a Neutron provider network (lab config externalBridge/externalNetwork)`,
      );
    return this.network(this.cfg.externalNetwork);
  }

  private async createPort(name: string, net: NeutronNetwork, mac?: string): Promise<{ id: string; mac: string }> {
    const r = await this.call<{ port: { id: string; mac_address: string } }>('network', 'POST', '/v2.0/ports', {
      json: { port: { network_id: net.id, name, ...(mac ? { mac_address: mac.toLowerCase() } : {}) } },
    });
    return { id: r.body.port.id, mac: r.body.port.mac_address };
  }

  private async deletePort(id: string): Promise<void> {
    await this.call('network', 'DELETE', `/v2.0/ports/${id}`, { idempotent: true }).catch((e) =>
      e instanceof NotFound ? undefined : Promise.reject(e),
    );
  }

  private async flavor(vcpus: number, ram: number): Promise<string> {
    const name = flavorName(vcpus, ram);
    const find = async () =>
      (await this.nova<{ flavors: { id: string; name: string }[] }>('GET', '/flavors/detail')).body.flavors.find(
        (f) => f.name === name,
      )?.id;
    const existing = await find();
    if (existing) return existing;
    try {
      return (
        await this.nova<{ flavor: { id: string } }>('POST', '/flavors', {
          json: { flavor: { name, vcpus, ram, disk: 0 } },
        })
      ).body.flavor.id;
    } catch (e) {
      // Another run may have created it meanwhile: read it back rather than repeat the create.
      const again = await find();
      if (again) return again;
      throw e;
    }
  }

  private async cinderVolume(id: string): Promise<CinderVolume> {
    return (await this.call<{ volume: CinderVolume }>('volumev3', 'GET', `/volumes/${id}`)).body.volume;
  }

  private async awaitVolume(id: string, want: string[], op: WaitOperation): Promise<CinderVolume> {
    let last = '';
    return (
      await waitFor(
        `volume ${id} to be ${want.join('/')}`,
        this.policy(op),
        async () => {
          const v = await this.cinderVolume(id);
          last = v.status;
          if (v.status.startsWith('error'))
            throw new PlatformError(`openstack: volume ${id} went to ${v.status}`, `cinder-${v.status}`, v.status);
          return want.includes(v.status) ? v : undefined;
        },
        { describeLast: () => last },
      )
    ).value;
  }

  private async createVolume(
    name: string,
    sizeBytes: number,
    meta: Record<string, string> = {},
  ): Promise<CinderVolume> {
    // Non-idempotent: never repeated. A name already in use is a conflict, not a reason to create a twin.
    const existing = (
      await this.call<{ volumes: CinderVolume[] }>('volumev3', 'GET', '/volumes/detail', { query: { name } })
    ).body.volumes.filter((v) => v.name === name);
    if (existing.length)
      throw new Conflict(`openstack: a Cinder volume named '${name}' already exists (${existing[0]?.id})`);
    const r = await this.call<{ volume: CinderVolume }>('volumev3', 'POST', '/volumes', {
      json: { volume: { name, size: gibCeil(sizeBytes), metadata: { ...ownershipMetadata(this.tag()), ...meta } } },
    });
    return this.awaitVolume(r.body.volume.id, ['available'], 'device');
  }

  private async deleteCinderVolume(id: string): Promise<void> {
    await this.call('volumev3', 'DELETE', `/volumes/${id}`, { idempotent: true }).catch((e) =>
      e instanceof NotFound ? undefined : Promise.reject(e),
    );
    await waitFor(`volume ${id} to be deleted`, this.policy('delete'), async () =>
      (await this.cinderVolume(id).then(
        () => false,
        (e) => (e instanceof NotFound ? true : Promise.reject(e)),
      ))
        ? true
        : undefined,
    );
  }

  private handle(serverId: string, res: HttpResponse): TaskHandle {
    return res.requestId
      ? {
          kind: 'request',
          id: `${serverId}/${res.requestId}`,
          note: 'server uuid / x-openstack-request-id, queryable as os-instance-actions',
        }
      : { kind: 'none', id: null, note: 'the response carried no x-openstack-request-id' };
  }

  private async image(ref: string): Promise<GlanceImage> {
    const byId = await this.call<GlanceImage>('image', 'GET', `/v2/images/${encodeURIComponent(ref)}`).catch((e) =>
      e instanceof NotFound ? undefined : Promise.reject(e),
    );
    if (byId) return byId.body;
    const named = (await this.call<{ images: GlanceImage[] }>('image', 'GET', '/v2/images', { query: { name: ref } }))
      .body.images;
    if (named.length === 1 && named[0]) return named[0];
    if (named.length > 1) throw new Conflict(`openstack: ${named.length} Glance images are named '${ref}'`);
    throw new NotFound(`openstack: no Glance image with id or name '${ref}'`);
  }

  private async awaitServer(
    id: string,
    name: string,
    pred: (s: NovaServer) => boolean,
    op: WaitOperation,
    opts: { failOnError?: boolean } = {},
  ): Promise<NovaServer> {
    let last = '';
    return (
      await waitFor(
        `${name} (${op})`,
        this.policy(op),
        async () => {
          const s = await this.server(id);
          last = mapPower(s).raw;
          if (opts.failOnError !== false && s.status === 'ERROR') throw faultError(name, s.fault);
          return pred(s) ? s : undefined;
        },
        { describeLast: () => last },
      )
    ).value;
  }

  private consoleText = async (id: string): Promise<string> =>
    (
      await this.nova<{ output: string }>('POST', `/servers/${id}/action`, {
        json: { 'os-getConsoleOutput': { length: null } },
        idempotent: true,
      })
    ).body.output ?? '';

  // ---- lifecycle -------------------------------------------------------------------------------
  create(spec: VmSpec): Promise<Receipt<VmRef>> {
    // Nova takes the firmware from the image (Glance property hw_firmware_type=uefi), not per server:
    // UEFI would need a UEFI variant of the image, which the adapter does not make yet. Never ignore it.
    if (spec.firmware === 'uefi')
      return Promise.reject(
        new Unsupported(
          'UEFI boot needs an image registered with hw_firmware_type=uefi; making that variant per VM is not implemented',
          'adapter',
        ),
      );
    return this.createServer(spec);
  }

  /**
   * `restored` boots from existing volumes (a restore) instead of the image: the boot volume's id,
   * and the data volumes the new server owns (deleted with it).
   */
  private async createServer(spec: VmSpec, restored?: { boot: string; owned: Set<string> }): Promise<Receipt<VmRef>> {
    const t0 = performance.now();
    // POST /servers is not idempotent: check the name first, and never repeat it blindly.
    const same = await this.serversNamed(spec.name);
    if (same.length) throw new Conflict(`openstack: a server named '${spec.name}' already exists (${same[0]?.id})`);
    const image = restored
      ? undefined
      : await this.image(spec.image).catch((e) => {
          throw e instanceof NotFound ? new NotFound(`openstack: image '${spec.image}' not found in Glance`) : e;
        });
    const nets = [];
    for (const n of spec.nics) nets.push(await this.nicNetwork(n));
    const flavorId = await this.flavor(spec.vcpus, spec.memoryMiB);
    const ports: string[] = [];
    const volumes: string[] = [];
    let serverId: string | undefined;
    try {
      for (const [i, n] of spec.nics.entries())
        ports.push((await this.createPort(`${spec.name}-nic${i}`, nets[i] as NeutronNetwork, n.mac)).id);
      const bdm: Record<string, unknown>[] = [
        image
          ? {
              boot_index: 0,
              source_type: 'image',
              destination_type: 'volume',
              uuid: image.id,
              volume_size: gibCeil(spec.bootDiskBytes ?? this.cfg.bootDiskBytes),
              delete_on_termination: true,
              tag: 'boot',
            }
          : {
              boot_index: 0,
              source_type: 'volume',
              destination_type: 'volume',
              uuid: restored?.boot,
              delete_on_termination: true,
              tag: 'boot',
            },
      ];
      for (const d of spec.disks) {
        const vid = d.volumeId
          ? volumeUuid(d.volumeId)
          : (await this.createVolume(`${spec.name}-${d.name}`, d.sizeBytes, { [ownKeys.disk]: d.name })).id;
        if (!d.volumeId) volumes.push(vid);
        bdm.push({
          boot_index: -1,
          source_type: 'volume',
          destination_type: 'volume',
          uuid: vid,
          delete_on_termination: !d.volumeId || !!restored?.owned.has(volumeUuid(d.volumeId)),
          tag: d.name,
        });
      }
      const tag = this.tag();
      const body = {
        server: {
          name: spec.name,
          flavorRef: flavorId,
          imageRef: '',
          block_device_mapping_v2: bdm,
          networks: ports.length ? ports.map((port) => ({ port })) : 'none',
          metadata: { ...spec.metadata, ...ownershipMetadata(tag) },
          tags: [marker, runTag(this.ctx.runId)],
          config_drive: true,
          ...(spec.userData !== undefined ? { user_data: Buffer.from(spec.userData).toString('base64') } : {}),
          ...(spec.placement?.site ? { availability_zone: spec.placement.site } : {}),
          ...(spec.placement?.host ? { host: spec.placement.host } : {}),
        },
      };
      let res: HttpResponse<{ server: { id: string } }>;
      try {
        res = await this.nova('POST', '/servers', { json: body });
      } catch (e) {
        // A transport failure leaves it unknown whether Nova acted: look, do not repeat.
        if (!(e instanceof PlatformError && e.platformCode === 'transport')) throw e;
        const found = (await this.serversNamed(spec.name))[0];
        if (!found) throw e;
        res = { status: 202, headers: {}, body: { server: { id: found.id } }, text: '', durationMs: 0 };
      }
      serverId = res.body.server.id;
      const acceptedMs = performance.now() - t0;
      await this.awaitServer(
        serverId,
        spec.name,
        (s) => s.status === 'ACTIVE' && !s['OS-EXT-STS:task_state'],
        'create',
      );
      // Nova boots every new server; the contract's create leaves it stopped, so stop it and start the
      // guest view after that first boot (the transcript keeps the truth).
      await this.nova('POST', `/servers/${serverId}/action`, { json: { 'os-stop': null } });
      await this.awaitServer(
        serverId,
        spec.name,
        (s) => s.status === 'SHUTOFF' && !s['OS-EXT-STS:task_state'],
        'stop-graceful',
      );
      const lines = (await this.consoleText(serverId)).split('\n').length - 1;
      await this.nova('POST', `/servers/${serverId}/metadata`, {
        json: { metadata: { [ownKeys.consoleFrom]: String(lines) } },
      });
      return {
        result: { id: serverId, name: spec.name },
        handle: this.handle(serverId, res),
        acceptedMs,
        doneMs: performance.now() - t0,
      };
    } catch (e) {
      // A failed create leaves nothing half-made (OBS-03): the server, then its ports and volumes.
      if (serverId) await this.destroyServer(serverId, spec.name).catch(() => undefined);
      for (const p of ports) await this.deletePort(p).catch(() => undefined);
      for (const v of volumes) await this.deleteCinderVolume(v).catch(() => undefined);
      throw e;
    }
  }

  private async action(vm: VmRef, body: unknown): Promise<HttpResponse> {
    return this.nova('POST', `/servers/${vm.id}/action`, { json: body });
  }

  private async transition(
    vm: VmRef,
    body: unknown,
    want: (s: NovaServer) => boolean,
    op: WaitOperation,
  ): Promise<Receipt> {
    const t0 = performance.now();
    const res = await this.action(vm, body);
    const acceptedMs = performance.now() - t0;
    await this.awaitServer(vm.id, vm.name, want, op);
    return { result: undefined, handle: this.handle(vm.id, res), acceptedMs, doneMs: performance.now() - t0 };
  }

  start(vm: VmRef): Promise<Receipt> {
    return this.transition(
      vm,
      { 'os-start': null },
      (s) => s.status === 'ACTIVE' && !s['OS-EXT-STS:task_state'],
      'start',
    );
  }

  /**
   * Nova has no forced power-off: os-stop always asks the guest first (shutdown_timeout) and powers off
   * after. A forced stop is therefore the same call; its handle says so.
   */
  async stop(vm: VmRef, opts: StopOptions): Promise<Receipt> {
    // Nova has no forced power-off: os-stop always asks the guest first (ACPI), then powers off after
    // a timeout. Calling that "forced" would pass off a graceful stop as one (LC-03).
    if (opts.force)
      throw new Unsupported(
        'Nova has no forced power-off: os-stop always tries a graceful (ACPI) shutdown first',
        'platform',
      );
    return this.transition(
      vm,
      { 'os-stop': null },
      (s) => s.status === 'SHUTOFF' && !s['OS-EXT-STS:task_state'],
      'stop-graceful',
    );
  }

  reboot(vm: VmRef): Promise<Receipt> {
    return this.transition(
      vm,
      { reboot: { type: 'SOFT' } },
      (s) => s.status === 'ACTIVE' && !s['OS-EXT-STS:task_state'],
      'reboot',
    );
  }

  /** Deletes a server and waits until Nova no longer knows it, then removes the ports the harness made for it. */
  private async destroyServer(id: string, name: string): Promise<HttpResponse> {
    const ifaces = (
      await this.nova<{ interfaceAttachments: InterfaceAttachment[] }>('GET', `/servers/${id}/os-interface`)
    ).body.interfaceAttachments;
    const res = await this.nova('DELETE', `/servers/${id}`, { idempotent: true });
    await waitFor(`${name} to be deleted`, this.policy('delete'), async () =>
      (await this.server(id).then(
        () => false,
        (e) => (e instanceof NotFound ? true : Promise.reject(e)),
      ))
        ? true
        : undefined,
    );
    // Nova deletes only the ports it created; the harness created these, so it removes them.
    for (const i of ifaces) {
      const port = await this.call<{ port: { name: string } }>('network', 'GET', `/v2.0/ports/${i.port_id}`).catch(
        () => undefined,
      );
      if (port?.body.port.name.startsWith('vmc-')) await this.deletePort(i.port_id);
    }
    return res;
  }

  async delete(vm: VmRef): Promise<Receipt> {
    const s = await this.ensureOwned(vm);
    const t0 = performance.now();
    const res = await this.destroyServer(vm.id, s.name);
    const ms = performance.now() - t0;
    return { result: undefined, handle: this.handle(vm.id, res), acceptedMs: ms, doneMs: ms };
  }

  async rename(vm: VmRef, newName: string): Promise<Receipt<VmRef>> {
    await this.ensureOwned(vm);
    if ((await this.serversNamed(newName)).length)
      throw new Conflict(`openstack: a server named '${newName}' already exists`);
    const t0 = performance.now();
    const res = await this.nova('PUT', `/servers/${vm.id}`, { json: { server: { name: newName } }, idempotent: true });
    const ms = performance.now() - t0;
    return { result: { id: vm.id, name: newName }, handle: this.handle(vm.id, res), acceptedMs: ms, doneMs: ms };
  }

  async inspect(vm: VmRef): Promise<VmState> {
    const s = await this.server(vm.id);
    const [atts, ifaces, aggs] = await Promise.all([
      this.nova<{ volumeAttachments: VolumeAttachment[] }>('GET', `/servers/${vm.id}/os-volume_attachments`),
      this.nova<{ interfaceAttachments: InterfaceAttachment[] }>('GET', `/servers/${vm.id}/os-interface`),
      this.nova('GET', '/os-aggregates').then((r) => r.body),
    ]);
    const vols = new Map<string, CinderVolume>();
    for (const a of atts.body.volumeAttachments) vols.set(a.volumeId, await this.cinderVolume(a.volumeId));
    const nets = new Map<string, NeutronNetwork>();
    for (const i of ifaces.body.interfaceAttachments) {
      const n = await this.networkById(i.net_id);
      if (n) nets.set(n.id, n);
    }
    const ext = this.cfg.externalNetwork
      ? await this.network(this.cfg.externalNetwork).catch(() => undefined)
      : undefined;
    const { power, raw } = mapPower(s);
    const host = s['OS-EXT-SRV-ATTR:host'] ?? undefined;
    const fd = host ? failureDomainOfHost(aggs, host) : undefined;
    const owner = ownerOf(s.metadata);
    return {
      ref: { id: s.id, name: s.name },
      power,
      rawState: raw,
      config: {
        vcpus: s.flavor.vcpus ?? 0,
        memoryMiB: s.flavor.ram ?? 0,
        disks: attachedDisks(atts.body.volumeAttachments, vols),
        nics: attachedNics(ifaces.body.interfaceAttachments, nets, {
          ...(ext ? { networkId: ext.id } : {}),
          ...(this.cfg.externalBridge ? { bridge: this.cfg.externalBridge } : {}),
        }),
        metadata: userMetadata(s.metadata),
        ...(owner ? { owner } : {}),
        placement: {
          ...(s['OS-EXT-AZ:availability_zone'] ? { site: s['OS-EXT-AZ:availability_zone'] } : {}),
          ...(host ? { host } : {}),
          ...(fd ? { failureDomain: fd } : {}),
        },
      },
      source: `Nova server (compute API ${this.session.pinned.compute?.pinned}), os-volume_attachments, os-interface, Cinder volumes, Neutron networks`,
    };
  }

  async list(filter: { owner?: string; metadata?: Record<string, string> }): Promise<VmRef[]> {
    // Nova filters by tag; it cannot filter by metadata, so the adapter does that part.
    const query = filter.owner ? { tags: runTag(filter.owner) } : undefined;
    const servers = (await this.nova<{ servers: NovaServer[] }>('GET', '/servers/detail', query ? { query } : {})).body
      .servers;
    return servers
      .filter((s) => !filter.owner || ownerOf(s.metadata)?.runId === filter.owner)
      .filter((s) => !filter.metadata || Object.entries(filter.metadata).every(([k, v]) => s.metadata[k] === v))
      .map((s) => ({ id: s.id, name: s.name }));
  }

  async owned(): Promise<OwnedObject[]> {
    const out: OwnedObject[] = [];
    for (const s of (await this.nova<{ servers: NovaServer[] }>('GET', '/servers/detail', { query: { tags: marker } }))
      .body.servers) {
      const o = ownerOf(s.metadata);
      if (o) out.push({ kind: 'vm', id: s.id, name: s.name, runId: o.runId });
    }
    // One entry per backup group (deleteBackup removes the whole group); an ungrouped part stands alone.
    const groups = new Set<string>();
    for (const b of await this.rawBackups()) {
      const o = ownerOf(b.metadata);
      const g = b.metadata?.[backupKeys.group];
      if (!o || (g && groups.has(g))) continue;
      if (g) groups.add(g);
      out.push({ kind: 'backup', id: b.id, name: b.name, runId: o.runId });
    }
    for (const v of await this.rawVolumes()) {
      const o = ownerOf(v.metadata);
      if (o) out.push({ kind: 'volume', id: toVolume(v).id, name: v.name, runId: o.runId });
    }
    for (const i of await this.rawImages()) {
      const img = toImage(i);
      if (img.owner) out.push({ kind: 'image', id: img.id, name: img.name, runId: img.owner.runId });
    }
    return out;
  }

  // ---- disks -----------------------------------------------------------------------------------
  private async rawVolumes(): Promise<CinderVolume[]> {
    return (await this.call<{ volumes: CinderVolume[] }>('volumev3', 'GET', '/volumes/detail')).body.volumes;
  }

  async attachDisk(vm: VmRef, disk: DiskSpec): Promise<Receipt<AttachedDisk>> {
    const s = await this.ensureOwned(vm);
    const t0 = performance.now();
    const created = disk.volumeId
      ? undefined
      : await this.createVolume(`${s.name}-${disk.name}`, disk.sizeBytes, { [ownKeys.disk]: disk.name });
    const vid = created?.id ?? volumeUuid(disk.volumeId as string);
    let res: HttpResponse;
    try {
      res = await this.nova('POST', `/servers/${vm.id}/os-volume_attachments`, {
        json: { volumeAttachment: { volumeId: vid, tag: disk.name, delete_on_termination: !!created } },
      });
    } catch (e) {
      if (created) await this.deleteCinderVolume(created.id).catch(() => undefined);
      throw e;
    }
    const acceptedMs = performance.now() - t0;
    await this.awaitVolume(vid, ['in-use'], 'device');
    const found = (await this.inspect(vm)).config.disks.find((d) => d.id === vid);
    if (!found) throw new NotFound(`openstack: volume ${vid} not attached to ${vm.name} after attach`);
    return { result: found, handle: this.handle(vm.id, res), acceptedMs, doneMs: performance.now() - t0 };
  }

  async detachDisk(vm: VmRef, diskId: string): Promise<Receipt> {
    await this.ensureOwned(vm);
    const t0 = performance.now();
    const res = await this.nova('DELETE', `/servers/${vm.id}/os-volume_attachments/${diskId}`, { idempotent: true });
    const acceptedMs = performance.now() - t0;
    await this.awaitVolume(diskId, ['available'], 'device');
    return { result: undefined, handle: this.handle(vm.id, res), acceptedMs, doneMs: performance.now() - t0 };
  }

  /** Cinder sizes volumes in whole GiB: the adapter asks for the smallest whole GiB holding the request. */
  async resizeDisk(vm: VmRef, diskId: string, sizeBytes: number): Promise<Receipt> {
    await this.ensureOwned(vm);
    const t0 = performance.now();
    const res = await this.call('volumev3', 'POST', `/volumes/${diskId}/action`, {
      json: { 'os-extend': { new_size: gibCeil(sizeBytes) } },
    });
    const acceptedMs = performance.now() - t0;
    await waitFor(`volume ${diskId} to finish extending`, this.policy('device'), async () => {
      const v = await this.cinderVolume(diskId);
      return v.status === 'in-use' || v.status === 'available' ? v : undefined;
    });
    return {
      result: undefined,
      handle: {
        kind: 'request',
        id: res.requestId ?? null,
        note: 'Cinder request id (Cinder has no per-volume action log)',
      },
      acceptedMs,
      doneMs: performance.now() - t0,
    };
  }

  async volumes(): Promise<Volume[]> {
    return (await this.rawVolumes()).map(toVolume);
  }

  async deleteVolume(volumeId: string): Promise<Receipt> {
    const id = volumeUuid(volumeId);
    const v = await this.cinderVolume(id);
    if (!ownerOf(v.metadata))
      throw new NotOwned(`refusing to delete volume '${volumeId}': it carries no vmconform ownership metadata`);
    if (v.attachments.length)
      throw new Conflict(`volume '${volumeId}' is attached to ${v.attachments.map((a) => a.server_id).join(', ')}`);
    return this.untracked('Cinder volume deletes have no action log', () => this.deleteCinderVolume(id));
  }

  /** A call whose platform keeps no queryable record: timed, and the handle says why there is none. */
  private async untracked(note: string, fn: () => Promise<void>): Promise<Receipt> {
    const t0 = performance.now();
    await fn();
    const ms = performance.now() - t0;
    return { result: undefined, handle: { kind: 'none', id: null, note }, acceptedMs: ms, doneMs: ms };
  }

  async storagePools(): Promise<StoragePool[]> {
    const r = await this.call<{ pools: CinderPool[] }>('volumev3', 'GET', '/scheduler-stats/get_pools', {
      query: { detail: true },
    });
    return r.body.pools.map(toStoragePool);
  }

  async metrics(vm: VmRef): Promise<VmMetrics> {
    const diag = (await this.nova('GET', `/servers/${vm.id}/diagnostics`)).body;
    const atts = (
      await this.nova<{ volumeAttachments: VolumeAttachment[] }>('GET', `/servers/${vm.id}/os-volume_attachments`)
    ).body.volumeAttachments;
    return toVmMetrics(diag, atts.map((a) => a.device.replace(/^\/dev\//, '')).sort());
  }

  async hostMetrics(): Promise<HostMetrics> {
    throw new Unsupported(
      'OpenStack exposes no host CPU time through its APIs (compute 2.88 removed hypervisor statistics; telemetry needs Ceilometer/Gnocchi)',
      'platform',
    );
  }

  // ---- NICs ------------------------------------------------------------------------------------
  async attachNic(vm: VmRef, nic: NicSpec): Promise<Receipt<AttachedNic>> {
    const s = await this.ensureOwned(vm);
    const net = await this.nicNetwork(nic);
    const t0 = performance.now();
    const count = (await this.nova<{ interfaceAttachments: unknown[] }>('GET', `/servers/${vm.id}/os-interface`)).body
      .interfaceAttachments.length;
    const port = await this.createPort(`${s.name}-nic${count}`, net, nic.mac);
    let res: HttpResponse;
    try {
      res = await this.nova('POST', `/servers/${vm.id}/os-interface`, {
        json: { interfaceAttachment: { port_id: port.id } },
      });
    } catch (e) {
      await this.deletePort(port.id).catch(() => undefined);
      throw e;
    }
    const acceptedMs = performance.now() - t0;
    const found = (
      await waitFor(`NIC ${port.mac} on ${vm.name}`, this.policy('device'), async () =>
        (await this.inspect(vm)).config.nics.find((n) => n.mac === port.mac),
      )
    ).value;
    return { result: found, handle: this.handle(vm.id, res), acceptedMs, doneMs: performance.now() - t0 };
  }

  async detachNic(vm: VmRef, mac: string): Promise<Receipt> {
    await this.ensureOwned(vm);
    const ifaces = (
      await this.nova<{ interfaceAttachments: InterfaceAttachment[] }>('GET', `/servers/${vm.id}/os-interface`)
    ).body.interfaceAttachments;
    const i = ifaces.find((x) => x.mac_addr.toLowerCase() === mac.toLowerCase());
    if (!i) throw new NotFound(`${vm.name} has no NIC with MAC ${mac}`);
    const t0 = performance.now();
    const res = await this.nova('DELETE', `/servers/${vm.id}/os-interface/${i.port_id}`, { idempotent: true });
    const acceptedMs = performance.now() - t0;
    await waitFor(`NIC ${mac} to leave ${vm.name}`, this.policy('device'), async () =>
      (
        await this.nova<{ interfaceAttachments: InterfaceAttachment[] }>('GET', `/servers/${vm.id}/os-interface`)
      ).body.interfaceAttachments.some((x) => x.port_id === i.port_id)
        ? undefined
        : true,
    );
    await this.deletePort(i.port_id);
    return { result: undefined, handle: this.handle(vm.id, res), acceptedMs, doneMs: performance.now() - t0 };
  }

  async networks(): Promise<Network[]> {
    const r = await this.call<{ networks: NeutronNetwork[] }>('network', 'GET', '/v2.0/networks');
    return r.body.networks.map((n) => ({ name: n.name, kind: 'platform', active: n.status === 'ACTIVE' }));
  }

  // ---- images ------------------------------------------------------------------------------------
  private async rawImages(): Promise<GlanceImage[]> {
    return (await this.call<{ images: GlanceImage[] }>('image', 'GET', '/v2/images')).body.images;
  }

  async images(): Promise<Image[]> {
    return (await this.rawImages()).map(toImage);
  }

  /** Glance upload; the platform's own hash must match the file's, then the image is protected (immutable). */
  async importImage(src: ImageSource): Promise<Receipt<Image>> {
    const data = await readFile(src.path);
    const sha256 = createHash('sha256').update(data).digest('hex');
    if (sha256 !== src.sha256.toLowerCase())
      throw new ConfigInvalid(`image source ${src.path}: sha256 is ${sha256}, expected ${src.sha256}`);
    const name = `${src.name}-${src.version}`;
    const existing = (await this.call<{ images: GlanceImage[] }>('image', 'GET', '/v2/images', { query: { name } }))
      .body.images;
    if (existing.length)
      throw new Conflict(`openstack: a Glance image named '${name}' already exists (${existing[0]?.id})`);
    const t0 = performance.now();
    const tag = this.tag();
    const created = await this.call<GlanceImage>('image', 'POST', '/v2/images', {
      json: {
        name,
        disk_format: src.format,
        container_format: 'bare',
        visibility: 'private',
        tags: [marker, runTag(this.ctx.runId)],
        vmconform_marker: tag.marker,
        vmconform_run: tag.runId,
        vmconform_created: tag.createdAt,
        vmconform_version: src.version,
      },
    });
    const id = created.body.id;
    try {
      await this.call('image', 'PUT', `/v2/images/${id}/file`, { raw: data, contentType: 'application/octet-stream' });
      const acceptedMs = performance.now() - t0;
      const img = (
        await waitFor(`image ${name} to be active`, this.policy('task'), async () => {
          const i = (await this.call<GlanceImage>('image', 'GET', `/v2/images/${id}`)).body;
          return i.status === 'active' ? i : undefined;
        })
      ).value;
      const algo = img.os_hash_algo ?? 'sha512';
      const local = createHash(algo).update(data).digest('hex');
      if (img.os_hash_value !== local)
        throw new PlatformError(
          `openstack: Glance's ${algo} of ${name} (${img.os_hash_value}) differs from the uploaded file's (${local})`,
          'checksum',
          String(img.os_hash_value),
        );
      const locked = await this.call<GlanceImage>('image', 'PATCH', `/v2/images/${id}`, {
        raw: JSON.stringify([{ op: 'replace', path: '/protected', value: true }]),
        contentType: 'application/openstack-images-v2.1-json-patch',
        idempotent: true,
      });
      return {
        result: toImage(locked.body),
        handle: { kind: 'request', id: created.requestId ?? null, note: 'Glance request id' },
        acceptedMs,
        doneMs: performance.now() - t0,
      };
    } catch (e) {
      await this.call('image', 'DELETE', `/v2/images/${id}`).catch(() => undefined);
      throw e;
    }
  }

  async deleteImage(id: string): Promise<Receipt> {
    const img = (await this.call<GlanceImage>('image', 'GET', `/v2/images/${id}`)).body;
    if (!toImage(img).owner)
      throw new NotOwned(`refusing to delete image '${img.name}' (${id}): no vmconform ownership properties`);
    const t0 = performance.now();
    if (img.protected)
      await this.call('image', 'PATCH', `/v2/images/${id}`, {
        raw: JSON.stringify([{ op: 'replace', path: '/protected', value: false }]),
        contentType: 'application/openstack-images-v2.1-json-patch',
        idempotent: true,
      });
    const res = await this.call('image', 'DELETE', `/v2/images/${id}`, { idempotent: true });
    const ms = performance.now() - t0;
    return {
      result: undefined,
      handle: { kind: 'request', id: res.requestId ?? null, note: 'Glance request id' },
      acceptedMs: ms,
      doneMs: ms,
    };
  }

  // ---- backups (Cinder) ---------------------------------------------------------------------------
  private async rawBackups(): Promise<RawBackup[]> {
    return (await this.call<{ backups: RawBackup[] }>('volumev3', 'GET', '/backups/detail')).body.backups;
  }

  /**
   * A VM backup is one Cinder backup per attached volume, tied by a group id in their metadata; the
   * boot volume's backup also keeps the flavor shape, the networks in order and the VM's metadata, so
   * restore rebuilds the same VM (new MACs: the original's ports may still exist).
   */
  async backup(vm: VmRef): Promise<Receipt<Backup>> {
    const s = await this.ensureOwned(vm);
    const t0 = performance.now();
    const atts = (
      await this.nova<{ volumeAttachments: VolumeAttachment[] }>('GET', `/servers/${vm.id}/os-volume_attachments`)
    ).body.volumeAttachments.sort((a, b) => a.device.localeCompare(b.device));
    const ifaces = (
      await this.nova<{ interfaceAttachments: InterfaceAttachment[] }>('GET', `/servers/${vm.id}/os-interface`)
    ).body.interfaceAttachments;
    const nets: string[] = [];
    for (const i of ifaces) nets.push((await this.networkById(i.net_id))?.name ?? i.net_id);
    const group = `${this.ctx.runId}-${Date.now().toString(36)}`;
    const ids: string[] = [];
    let first: HttpResponse | undefined;
    for (const a of atts) {
      const device = a.device.replace(/^\/dev\//, '');
      const boot = device === 'vda';
      const meta: Record<string, string> = {
        ...ownershipMetadata(this.tag()),
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
      const r = await this.call<{ backup: { id: string } }>('volumev3', 'POST', '/backups', {
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
      this.policy('task'),
      async () => {
        const b = (await this.call<{ backup: RawBackup }>('volumev3', 'GET', `/backups/${id}`)).body.backup;
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
    const t0 = performance.now();
    const parts = await this.backupGroup(backup.id);
    const boot = parts.find((b) => b.metadata?.[backupKeys.device] === 'vda');
    if (!boot?.metadata) throw new NotFound(`openstack: backup ${backup.id} has no boot volume backup`);
    const m = boot.metadata;
    const [vcpus, ram] = (m[backupKeys.shape] ?? '1 256').split(' ').map(Number);
    const made: string[] = [];
    try {
      for (const b of parts) {
        // Volume from backup needs volume API 3.47.
        const r = await this.call<{ volume: { id: string } }>('volumev3', 'POST', '/volumes', {
          json: {
            volume: {
              name: `${opts.name}-${b.metadata?.[backupKeys.device]}`,
              backup_id: b.id,
              metadata: {
                ...ownershipMetadata(this.tag()),
                ...(b.metadata?.[ownKeys.disk] ? { [ownKeys.disk]: b.metadata[ownKeys.disk] } : {}),
              },
            },
          },
        });
        made.push(r.body.volume.id);
      }
      for (const v of made) await this.awaitVolume(v, ['available'], 'task');
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
      const r = await this.createServer(spec, { boot: made[0] as string, owned: new Set(made) });
      return { ...r, acceptedMs: r.acceptedMs, doneMs: performance.now() - t0 };
    } catch (e) {
      for (const v of made) await this.deleteCinderVolume(v).catch(() => undefined);
      throw e;
    }
  }

  async deleteBackup(id: string): Promise<Receipt> {
    const parts = await this.backupGroup(id);
    if (!parts.every((b) => ownerOf(b.metadata)))
      throw new NotOwned(`refusing to delete backup ${id}: not every part carries the vmconform ownership metadata`);
    return this.untracked('Cinder backup deletes have no action log', async () => {
      for (const b of parts) await this.call('volumev3', 'DELETE', `/backups/${b.id}`, { idempotent: true });
      await waitFor(`backups of ${id} to be deleted`, this.policy('delete'), async () => {
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

  async exportVolume(
    _volumeId: string,
    _dest: { path: string; format: VolumeFile['format'] },
  ): Promise<Receipt<VolumeFile>> {
    // The platform can (os-volume_upload_image, then GET /v2/images/{id}/file); the shared HttpClient reads
    // bodies as text, so a GiB-sized download needs a streaming call there first.
    throw new Unsupported(
      'volume export (Cinder os-volume_upload_image + Glance image download) is not implemented yet: adapters/http/client.ts has no streaming download',
      'adapter',
    );
  }

  async importVolume(_name: string, _src: VolumeFile): Promise<Receipt<Volume>> {
    throw new Unsupported(
      'volume import (Glance upload + Cinder volume from imageRef) is not implemented yet: adapters/http/client.ts has no streaming upload',
      'adapter',
    );
  }

  /** Day-2 resize: a flavor of the new shape, Nova resize, then confirm. */
  async reconfigure(vm: VmRef, change: Resize): Promise<Receipt> {
    const s = await this.ensureOwned(vm);
    const flavor = await this.flavor(change.vcpus ?? s.flavor.vcpus ?? 1, change.memoryMiB ?? s.flavor.ram ?? 256);
    const t0 = performance.now();
    const res = await this.action(vm, { resize: { flavorRef: flavor } });
    const acceptedMs = performance.now() - t0;
    await this.awaitServer(vm.id, vm.name, (x) => x.status === 'VERIFY_RESIZE' && !x['OS-EXT-STS:task_state'], 'task');
    await this.action(vm, { confirmResize: null });
    await this.awaitServer(
      vm.id,
      vm.name,
      (x) => (x.status === 'ACTIVE' || x.status === 'SHUTOFF') && !x['OS-EXT-STS:task_state'],
      'task',
    );
    return { result: undefined, handle: this.handle(vm.id, res), acceptedMs, doneMs: performance.now() - t0 };
  }

  async consoleLog(vm: VmRef): Promise<string> {
    return this.consoleText(vm.id);
  }

  /** Nova offers no event stream to API clients: poll servers and report each status change as it is seen. */
  async *events(signal: AbortSignal): AsyncIterable<PlatformEvent> {
    const seen = new Map<string, { status: string; name: string }>();
    const since = new Date(Date.now() - 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    let first = true;
    while (!signal.aborted) {
      const servers = await this.nova<{ servers: NovaServer[] }>('GET', '/servers/detail').then(
        (r) => r.body.servers,
        () => undefined,
      );
      if (servers) {
        const now = new Set<string>();
        for (const s of servers) {
          now.add(s.id);
          const status = `${s.status}${s['OS-EXT-STS:task_state'] ? `/${s['OS-EXT-STS:task_state']}` : ''}`;
          const before = seen.get(s.id);
          seen.set(s.id, { status, name: s.name });
          // On the first poll only servers created since the subscription are news.
          if ((first && !(s.created && s.created >= since)) || before?.status === status) continue;
          const detail = !before
            ? 'defined'
            : before.status.startsWith('BUILD')
              ? 'built'
              : s.status === 'ACTIVE' && !s['OS-EXT-STS:task_state']
                ? 'started'
                : s.status === 'SHUTOFF' && !s['OS-EXT-STS:task_state']
                  ? 'stopped'
                  : status.toLowerCase();
          yield {
            receivedAt: Date.now(),
            ...(s.updated ? { platformAt: s.updated } : {}),
            vm: s.name,
            // A server appearing is a lifecycle change (created), as libvirt's "defined" is.
            kind: 'lifecycle',
            detail,
            source: 'poll',
            raw: `${s.id} ${before?.status ?? '-'} -> ${status}`,
          };
        }
        for (const [id, v] of seen)
          if (!now.has(id)) {
            seen.delete(id);
            if (!first)
              yield {
                receivedAt: Date.now(),
                vm: v.name,
                kind: 'lifecycle',
                detail: 'deleted',
                source: 'poll',
                raw: `${id} ${v.status} -> gone`,
              };
          }
        first = false;
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, 500);
        signal.addEventListener(
          'abort',
          () => {
            clearTimeout(t);
            r();
          },
          { once: true },
        );
      });
    }
  }

  async task(handle: TaskHandle): Promise<TaskInfo> {
    const [serverId, requestId] = (handle.id ?? '').split('/');
    if (!serverId || !requestId) throw new NotFound(`not an OpenStack request handle: ${handle.id}`);
    const a = (
      await this.nova<{ instanceAction: InstanceAction }>(
        'GET',
        `/servers/${serverId}/os-instance-actions/${requestId}`,
      )
    ).body.instanceAction;
    const st = actionStatus(a);
    return {
      handle,
      status: st.status,
      startedAt: a.start_time,
      ...(st.endedAt ? { endedAt: st.endedAt } : {}),
      ...(st.error ? { error: st.error } : {}),
    };
  }

  /** The guest view: the console log through os-getConsoleOutput, from after the boot Nova's create did. */
  guest(vm: VmRef): GuestProbe {
    return {
      kind: 'serial-console',
      read: async () => {
        const s = await this.server(vm.id);
        const from = Number(s.metadata[ownKeys.consoleFrom] ?? 0);
        const text = await this.consoleText(vm.id);
        return parseConsole(text.split('\n').slice(from).join('\n'));
      },
    };
  }

  async close(): Promise<void> {
    await this.session.close();
  }
}
