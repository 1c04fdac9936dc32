/** Nova servers: create (boot-from-volume, left stopped), power transitions, delete, rename, inspect, resize. */
import { lastBoot, parseConsole } from '../../host/guest/report.js';
import { waitFor } from '../../host/wait.js';
import {
  Conflict,
  NotFound,
  ownershipMarker,
  PlatformError,
  PrereqMissing,
  type Receipt,
  type Resize,
  type StopOptions,
  Unsupported,
  type VmOps,
  type VmRef,
  type VmSpec,
  type VmState,
} from '../contract/index.js';
import type { HttpResponse } from '../http/client.js';
import type { OpenStackBase } from './core.js';
import { OpenStackHosts } from './hosts.js';
import { glanceImage } from './images.js';
import {
  actionStatus,
  attachedDisks,
  attachedNics,
  type CinderVolume,
  failureDomainOfHost,
  flavorName,
  gibCeil,
  type InstanceAction,
  type InterfaceAttachment,
  inGuestOrder,
  localRootDisk,
  mapPower,
  type NeutronNetwork,
  type NovaServer,
  ownerOf,
  ownershipMetadata,
  ownKeys,
  resizeFailure,
  runTag,
  userMetadata,
  type VolumeAttachment,
  volumeUuid,
} from './mapping.js';

const settled = (status: string) => (s: NovaServer) => s.status === status && !s['OS-EXT-STS:task_state'];

export class OpenStackVms implements VmOps {
  constructor(private readonly os: OpenStackBase) {}

  async create(spec: VmSpec): Promise<Receipt<VmRef>> {
    // Nova takes the firmware from the image (Glance property hw_firmware_type=uefi), not per server:
    // UEFI would need a UEFI variant of the image, which the adapter does not make yet. Never ignore it.
    if (spec.firmware === 'uefi')
      this.os.unsupported(
        'create',
        'UEFI boot needs an image registered with hw_firmware_type=uefi; making that variant per VM is not implemented',
      );
    return this.createServer(spec);
  }

  /**
   * `restored` boots from existing volumes (a restore) instead of the image: the boot volume's id,
   * and the data volumes the new server owns (deleted with it).
   */
  async createServer(spec: VmSpec, restored?: { boot: string; owned: Set<string> }): Promise<Receipt<VmRef>> {
    const { os } = this;
    const t0 = performance.now();
    // POST /servers is not idempotent: check the name first, and never repeat it blindly.
    const same = await os.serversNamed(spec.name);
    if (same.length) throw new Conflict(`openstack: a server named '${spec.name}' already exists (${same[0]?.id})`);
    const image = restored
      ? undefined
      : await glanceImage(os, spec.image).catch((e) => {
          throw e instanceof NotFound ? new NotFound(`openstack: image '${spec.image}' not found in Glance`) : e;
        });
    const nets: NeutronNetwork[] = [];
    for (const n of spec.nics) nets.push(await os.neutron.nicNetwork(n));
    const rootGiB = gibCeil(spec.bootDiskBytes ?? os.cfg.bootDiskBytes);
    const local = !!image && os.cfg.boot === 'image';
    // A local root is sized by the flavor (a zero-disk flavor is refused to non-admins by policy).
    const flavorId = await this.flavor(spec.vcpus, spec.memoryMiB, local ? rootGiB : 0);
    // A failed create leaves nothing half-made (OBS-03): the server, its volumes and its ports.
    return os.withRollback(async (rollback) => {
      const ports: string[] = [];
      for (const [i, n] of spec.nics.entries()) {
        const port = await os.neutron.createPort(`${spec.name}-nic${i}`, nets[i] as NeutronNetwork, n.mac);
        ports.push(port.id);
        rollback.add(`port ${port.id}`, () => os.neutron.deletePort(port.id));
      }
      const bdm: Record<string, unknown>[] = [
        {
          boot_index: 0,
          source_type: image ? 'image' : 'volume',
          destination_type: local ? 'local' : 'volume',
          uuid: image ? image.id : restored?.boot,
          ...(image && !local ? { volume_size: rootGiB } : {}),
          delete_on_termination: true,
          tag: 'boot',
        },
      ];
      for (const d of spec.disks) {
        let vid: string;
        if (d.volumeId) vid = volumeUuid(d.volumeId);
        else {
          const made = (await os.cinder.create(`${spec.name}-${d.name}`, d.sizeBytes, { [ownKeys.disk]: d.name })).id;
          rollback.add(`volume ${made}`, () => os.cinder.delete(made));
          vid = made;
        }
        bdm.push({
          boot_index: -1,
          source_type: 'volume',
          destination_type: 'volume',
          uuid: vid,
          delete_on_termination: !d.volumeId || !!restored?.owned.has(volumeUuid(d.volumeId)),
          tag: d.name,
        });
      }
      const body = {
        server: {
          name: spec.name,
          flavorRef: flavorId,
          // A local root takes the image from imageRef: with it empty, nova-compute fails the build
          // (ImageNotFound) after scheduling.
          imageRef: local ? image.id : '',
          block_device_mapping_v2: bdm,
          networks: ports.length ? ports.map((port) => ({ port })) : 'none',
          metadata: { ...spec.metadata, ...ownershipMetadata(os.tag()) },
          tags: [ownershipMarker, runTag(os.ctx.runId)],
          config_drive: true,
          ...(spec.userData !== undefined ? { user_data: Buffer.from(spec.userData).toString('base64') } : {}),
          ...(spec.placement?.site ? { availability_zone: spec.placement.site } : {}),
          ...(spec.placement?.host ? { host: spec.placement.host } : {}),
        },
      };
      let res: HttpResponse<{ server: { id: string } }>;
      try {
        res = await os.nova('POST', '/servers', { json: body });
      } catch (e) {
        // A transport failure leaves it unknown whether Nova acted: look, do not repeat.
        if (!(e instanceof PlatformError && e.platformCode === 'transport')) throw e;
        const found = (await os.serversNamed(spec.name))[0];
        if (!found) throw e;
        res = { status: 202, headers: {}, body: { server: { id: found.id } }, text: '', durationMs: 0 };
      }
      const serverId = res.body.server.id;
      rollback.add(`server ${serverId}`, () => this.destroyServer(serverId, spec.name));
      const acceptedMs = performance.now() - t0;
      await os.awaitServer(serverId, spec.name, settled('ACTIVE'), 'create');
      // Nova boots every new server; the contract's create leaves it stopped, so stop it, and the guest
      // view leaves that first boot out (by its boot_id; the transcript keeps the truth).
      // Read before the stop: a stopped server has no console (404).
      const boot = lastBoot(parseConsole(await os.consoleText(serverId)))?.ready.bootId;
      await os.nova('POST', `/servers/${serverId}/action`, { json: { 'os-stop': null } });
      await os.awaitServer(serverId, spec.name, settled('SHUTOFF'), 'stop-graceful');
      if (boot)
        await os.nova('POST', `/servers/${serverId}/metadata`, { json: { metadata: { [ownKeys.createBoot]: boot } } });
      return {
        result: { id: serverId, name: spec.name },
        handle: os.handle(serverId, res),
        acceptedMs,
        doneMs: performance.now() - t0,
      };
    });
  }

  private async flavor(vcpus: number, ram: number, disk = 0): Promise<string> {
    const name = flavorName(vcpus, ram, disk);
    const find = async () =>
      (await this.os.list<{ id: string; name: string }>('compute', '/flavors/detail', 'flavors')).find(
        (f) => f.name === name,
      )?.id;
    const existing = await find();
    if (existing) return existing;
    try {
      return (
        await this.os.nova<{ flavor: { id: string } }>('POST', '/flavors', {
          json: { flavor: { name, vcpus, ram, disk } },
        })
      ).body.flavor.id;
    } catch (e) {
      // Another run may have created it meanwhile: read it back rather than repeat the create.
      const again = await find();
      if (again) return again;
      throw e;
    }
  }

  private action(vm: VmRef, body: unknown): Promise<HttpResponse> {
    return this.os.nova('POST', `/servers/${vm.id}/action`, { json: body });
  }

  private async transition(
    vm: VmRef,
    body: unknown,
    want: (s: NovaServer) => boolean,
    op: 'start' | 'stop-graceful' | 'reboot',
  ): Promise<Receipt> {
    // Before a stop or reboot the console still holds this boot's end, which the next start's log replaces.
    // The stop does not depend on it: a failed read shows on the guest view's own reads, not here.
    if (op !== 'start') await this.os.observeConsole(vm.id).catch(() => undefined);
    const t0 = performance.now();
    const res = await this.action(vm, body);
    const acceptedMs = performance.now() - t0;
    await this.os.awaitServer(vm.id, vm.name, want, op);
    return { result: undefined, handle: this.os.handle(vm.id, res), acceptedMs, doneMs: performance.now() - t0 };
  }

  start(vm: VmRef): Promise<Receipt> {
    return this.transition(vm, { 'os-start': null }, settled('ACTIVE'), 'start');
  }

  async stop(vm: VmRef, opts: StopOptions): Promise<Receipt> {
    // Nova has no forced power-off: os-stop always asks the guest first (ACPI), then powers off after
    // a timeout. Calling that "forced" would pass off a graceful stop as one (LC-03).
    if (opts.force)
      throw new Unsupported(
        'Nova has no forced power-off: os-stop always tries a graceful (ACPI) shutdown first',
        'platform',
      );
    return this.transition(vm, { 'os-stop': null }, settled('SHUTOFF'), 'stop-graceful');
  }

  reboot(vm: VmRef): Promise<Receipt> {
    return this.transition(vm, { reboot: { type: 'SOFT' } }, settled('ACTIVE'), 'reboot');
  }

  /** Deletes a server and waits until Nova no longer knows it, then removes the ports the harness made for it. */
  private async destroyServer(id: string, name: string): Promise<HttpResponse> {
    const { os } = this;
    const ifaces = (
      await os.nova<{ interfaceAttachments: InterfaceAttachment[] }>('GET', `/servers/${id}/os-interface`)
    ).body.interfaceAttachments;
    const res = await os.nova('DELETE', `/servers/${id}`, { idempotent: true });
    await waitFor(`${name} to be deleted`, os.policy('delete'), async () =>
      (await os.server(id).then(
        () => false,
        (e) => (e instanceof NotFound ? true : Promise.reject(e)),
      ))
        ? true
        : undefined,
    );
    // Nova deletes only the ports it created; the harness created these, so it removes them.
    for (const i of ifaces) {
      const port = await os
        .call<{ port: { name: string } }>('network', 'GET', `/v2.0/ports/${i.port_id}`)
        .catch(() => undefined);
      if (port?.body.port.name.startsWith('vmc-')) await os.neutron.deletePort(i.port_id);
    }
    return res;
  }

  async delete(vm: VmRef): Promise<Receipt> {
    const s = await this.os.ownedServer(vm);
    const t0 = performance.now();
    const res = await this.destroyServer(vm.id, s.name);
    const ms = performance.now() - t0;
    return { result: undefined, handle: this.os.handle(vm.id, res), acceptedMs: ms, doneMs: ms };
  }

  async rename(vm: VmRef, newName: string): Promise<Receipt<VmRef>> {
    await this.os.ownedServer(vm);
    if ((await this.os.serversNamed(newName)).length)
      throw new Conflict(`openstack: a server named '${newName}' already exists`);
    const t0 = performance.now();
    const res = await this.os.nova('PUT', `/servers/${vm.id}`, {
      json: { server: { name: newName } },
      idempotent: true,
    });
    const ms = performance.now() - t0;
    return { result: { id: vm.id, name: newName }, handle: this.os.handle(vm.id, res), acceptedMs: ms, doneMs: ms };
  }

  async inspect(vm: VmRef): Promise<VmState> {
    const { os } = this;
    const s = await os.server(vm.id);
    const [atts, ifaces, aggs, ports] = await Promise.all([
      os.nova<{ volumeAttachments: VolumeAttachment[] }>('GET', `/servers/${vm.id}/os-volume_attachments`),
      os.nova<{ interfaceAttachments: InterfaceAttachment[] }>('GET', `/servers/${vm.id}/os-interface`),
      // Aggregates are admin-only by default: without them the failure domain is unknown, not an error.
      os
        .nova('GET', '/os-aggregates')
        .then((r) => r.body)
        .catch((e) => (e instanceof PrereqMissing ? undefined : Promise.reject(e))),
      os.list<{ id: string; name: string; created_at?: string }>('network', '/v2.0/ports', 'ports', {
        device_id: vm.id,
      }),
    ]);
    const vols = new Map<string, CinderVolume>();
    for (const a of atts.body.volumeAttachments) vols.set(a.volumeId, await os.cinderVolume(a.volumeId));
    const nets = new Map<string, NeutronNetwork>();
    for (const i of ifaces.body.interfaceAttachments) {
      const n = await os.neutron.networkById(i.net_id);
      if (n) nets.set(n.id, n);
    }
    const { externalBridge, externalNetwork } = os.cfg;
    const ext = externalNetwork ? await os.neutron.network(externalNetwork).catch(() => undefined) : undefined;
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
        disks: [
          ...[localRootDisk(s)].filter((d) => d !== undefined),
          ...attachedDisks(atts.body.volumeAttachments, vols),
        ],
        nics: attachedNics(inGuestOrder(ifaces.body.interfaceAttachments, ports), nets, {
          ...(ext ? { networkId: ext.id } : {}),
          ...(externalBridge ? { bridge: externalBridge } : {}),
        }),
        metadata: userMetadata(s.metadata),
        ...(owner ? { owner } : {}),
        placement: {
          ...(s['OS-EXT-AZ:availability_zone'] ? { site: s['OS-EXT-AZ:availability_zone'] } : {}),
          ...(host ? { host } : {}),
          ...(fd ? { failureDomain: fd } : {}),
        },
      },
      source: `Nova server (compute API ${os.session.pinned.compute?.pinned}), os-volume_attachments, os-interface, Cinder volumes, Neutron networks`,
    };
  }

  async list(filter: { owner?: string; metadata?: Record<string, string> }): Promise<VmRef[]> {
    // Nova filters by tag; it cannot filter by metadata, so the adapter does that part.
    const query = filter.owner ? { tags: runTag(filter.owner) } : undefined;
    const servers = await this.os.list<NovaServer>('compute', '/servers/detail', 'servers', query);
    return servers
      .filter((s) => !filter.owner || ownerOf(s.metadata)?.runId === filter.owner)
      .filter((s) => !filter.metadata || Object.entries(filter.metadata).every(([k, v]) => s.metadata[k] === v))
      .map((s) => ({ id: s.id, name: s.name }));
  }

  /** Day-2 resize: a flavor of the new shape, Nova resize, then confirm. */
  async reconfigure(vm: VmRef, change: Resize): Promise<Receipt> {
    const { os } = this;
    const s = await os.ownedServer(vm);
    const flavor = await this.flavor(
      change.vcpus ?? s.flavor.vcpus ?? 1,
      change.memoryMiB ?? s.flavor.ram ?? 256,
      s.flavor.disk ?? 0,
    );
    const t0 = performance.now();
    const res = await this.action(vm, { resize: { flavorRef: flavor } });
    const acceptedMs = performance.now() - t0;
    // A resize the scheduler cannot place returns the server to its former state, no fault: the
    // failure is only in the instance action. Watch it, so the answer is the reason, not a timeout.
    let hosts: number | undefined;
    await os.awaitServer(vm.id, vm.name, settled('VERIFY_RESIZE'), 'task', {
      check: async (x) => {
        if (x['OS-EXT-STS:task_state'] || !res.requestId) return;
        const a = await os
          .nova<{ instanceAction: InstanceAction }>('GET', `/servers/${vm.id}/os-instance-actions/${res.requestId}`)
          .then((r) => r.body.instanceAction)
          .catch(() => undefined);
        if (!a || actionStatus(a).status !== 'failed') return;
        hosts ??= await new OpenStackHosts(os).hypervisors().then(
          (h) => h.length,
          () => 0,
        );
        throw new PlatformError(
          `openstack: ${vm.name}: ${resizeFailure(a, hosts)}`,
          'nova-resize-failed',
          resizeFailure(a, hosts) ?? '',
        );
      },
    });
    await this.action(vm, { confirmResize: null });
    await os.awaitServer(
      vm.id,
      vm.name,
      (x) => (x.status === 'ACTIVE' || x.status === 'SHUTOFF') && !x['OS-EXT-STS:task_state'],
      'task',
    );
    return { result: undefined, handle: os.handle(vm.id, res), acceptedMs, doneMs: performance.now() - t0 };
  }
}
