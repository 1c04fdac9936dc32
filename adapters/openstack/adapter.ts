/**
 * The OpenStack driver, assembled from its concerns (one module each) over a shared OpenStackBase.
 * What this file holds itself spans them all: capabilities, versions, and what the harness owns.
 */
import {
  type AdapterContext,
  type Capabilities,
  type CoreOps,
  composeDriver,
  type Driver,
  type OwnedObject,
  ownershipMarker,
  type PlatformInfo,
  PrereqMissing,
} from '../contract/index.js';
import { backupHeads, OpenStackBackups } from './backups.js';
import type { OpenStackSession } from './client.js';
import { OpenStackBase, type OpenStackConfig } from './core.js';
import { OpenStackDisks } from './disks.js';
import { OpenStackEvents } from './events.js';
import { OpenStackGuest } from './guest.js';
import { OpenStackHosts } from './hosts.js';
import { OpenStackImages } from './images.js';
import { type NovaServer, ownerOf, toImage, toVolume } from './mapping.js';
import { OpenStackNics } from './nics.js';
import { OpenStackVms } from './vms.js';

export type { OpenStackConfig } from './core.js';

/** The driver, plus its Keystone session for scripts that call the APIs beside it. */
export type OpenStackDriver = Driver & { readonly session: OpenStackSession };

class OpenStackCore implements CoreOps {
  constructor(
    private readonly os: OpenStackBase,
    private readonly hosts: OpenStackHosts,
    private readonly backups: OpenStackBackups,
    private readonly images: OpenStackImages,
  ) {}

  async capabilities(): Promise<Capabilities> {
    const { session, cfg } = this.os;
    await session.client('compute');
    return {
      instanceType: 'vm',
      evidence: session.simulator ? 'simulated' : cfg.evidence,
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
      externalBridge: !!cfg.externalNetwork,
      hostMaintenance: 'evacuate-live',
      // Glance's image data is write-once: an upload to an active image answers 409 "Image status
      // transition from active to saving is not allowed" (seen on the lab's Glance 25); a version is a new image.
      imageVersions: 'platform',
      prereqMissing: cfg.prereqMissing,
    };
  }

  async platformInfo(): Promise<PlatformInfo> {
    const { session } = this.os;
    await Promise.all([session.client('compute'), session.client('volumev3'), session.client('placement')]);
    const p = session.pinned;
    const c = p.compute;
    return {
      platform: 'openstack',
      product: session.simulator ? 'OpenStack (vmconform simulator of the Zed APIs)' : 'OpenStack',
      // The APIs expose no release name: the compute API's maximum microversion identifies the release.
      version: c ? `compute ${c.serverMax}` : 'unknown',
      apiVersion: `compute ${c?.pinned} (server ${c?.serverMin}-${c?.serverMax}), volume ${p.volume?.pinned}, placement ${p.placement?.pinned}`,
      // os-hypervisors is admin-only by default: a member credential still gets the rest.
      hypervisor:
        (await this.hosts.hypervisors().catch((e) => (e instanceof PrereqMissing ? [] : Promise.reject(e))))[0]
          ?.hypervisor_type ?? 'unknown',
      accel: session.simulator ? 'simulated' : (this.os.cfg.accel ?? 'tcg'),
      endpoint: this.os.cfg.endpoint,
    };
  }

  async owned(): Promise<OwnedObject[]> {
    const out: OwnedObject[] = [];
    const servers = await this.os.list<NovaServer>('compute', '/servers/detail', 'servers', { tags: ownershipMarker });
    for (const s of servers) {
      const o = ownerOf(s.metadata);
      if (o) out.push({ kind: 'vm', id: s.id, name: s.name, runId: o.runId });
    }
    // One entry per backup group, under the id backup() gave it (deleteBackup removes the whole group).
    for (const b of backupHeads(await this.backups.rawBackups())) {
      const o = ownerOf(b.metadata);
      if (o) out.push({ kind: 'backup', id: b.id, name: b.name, runId: o.runId });
    }
    for (const v of await this.os.cinder.list()) {
      const o = ownerOf(v.metadata);
      if (o) out.push({ kind: 'volume', id: toVolume(v).id, name: v.name, runId: o.runId });
    }
    for (const i of await this.images.rawImages()) {
      const img = toImage(i);
      if (img.owner) out.push({ kind: 'image', id: img.id, name: img.name, runId: img.owner.runId });
    }
    return out;
  }

  async close(): Promise<void> {
    await this.os.session.close();
  }
}

/** One OpenStack driver over a Keystone session; whatever no concern implements answers Unsupported(adapter). */
export function openStackDriver(cfg: OpenStackConfig, session: OpenStackSession, ctx: AdapterContext): OpenStackDriver {
  const os = new OpenStackBase(cfg, session, ctx);
  const vms = new OpenStackVms(os);
  const inspect = vms.inspect.bind(vms);
  const hosts = new OpenStackHosts(os);
  const backups = new OpenStackBackups(os, vms);
  const images = new OpenStackImages(os);
  const driver = composeDriver(os, {
    core: new OpenStackCore(os, hosts, backups, images),
    vms,
    disks: new OpenStackDisks(os, inspect),
    nics: new OpenStackNics(os, inspect),
    images,
    backups,
    events: new OpenStackEvents(os),
    hosts,
    guest: new OpenStackGuest(os),
  });
  return Object.assign(driver, { session });
}
