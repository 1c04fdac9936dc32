/** What every driver answers whatever it supports: capabilities, versions, the harness's owned objects. */
import { type Capabilities, type CoreOps, NotFound, type OwnedObject, type PlatformInfo } from '../contract/index.js';
import type { LibvirtBackups } from './backups.js';
import type { LibvirtBase } from './core.js';
import { ownedVolumeRun } from './mapping.js';
import { parseVersion } from './virsh-output.js';

export class LibvirtInventory implements CoreOps {
  constructor(
    private readonly b: LibvirtBase,
    private readonly backupOps: LibvirtBackups,
  ) {}

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
      prereqMissing: this.b.cfg.prereqMissing,
    };
  }

  async platformInfo(): Promise<PlatformInfo> {
    const v = parseVersion(await this.b.virsh.run(['version', '--daemon']));
    return {
      platform: 'libvirt',
      product: 'libvirt',
      version: v.daemon ?? v.library ?? 'unknown',
      ...(v.api ? { apiVersion: v.api } : {}),
      ...(v.hypervisor ? { hypervisor: v.hypervisor } : {}),
      accel: this.b.cfg.accel,
      endpoint: this.b.cfg.uri,
    };
  }

  async owned(): Promise<OwnedObject[]> {
    const { b } = this;
    const out: OwnedObject[] = [];
    for (const id of await b.lines(['list', '--all', '--uuid'])) {
      const d = await b.domain({ id, name: id }).catch((e) => (e instanceof NotFound ? undefined : Promise.reject(e)));
      if (d?.config.owner) out.push({ kind: 'vm', id: d.uuid, name: d.name, runId: d.config.owner.runId });
    }
    // libvirt volumes carry no metadata: ownership is the harness pool plus the vmc-<run id>- name prefix.
    for (const pool of b.ownedPools) {
      await b.virsh.run(['pool-refresh', pool]);
      for (const name of await b.volumeNames(pool)) {
        const runId = ownedVolumeRun(name);
        if (runId) out.push({ kind: 'volume', id: `${pool}/${name}`, name, runId });
      }
    }
    await b.virsh.run(['pool-refresh', b.cfg.imagePool]);
    for (const name of await b.volumeNames(b.cfg.imagePool)) {
      const runId = ownedVolumeRun(name);
      if (runId) out.push({ kind: 'image', id: `${b.cfg.imagePool}/${name}`, name, runId });
    }
    for (const bk of await this.backupOps.backups()) {
      out.push({ kind: 'backup', id: bk.id, name: bk.id, runId: bk.id.split('/', 1)[0] as string });
    }
    return out;
  }

  async close(): Promise<void> {
    this.b.virsh.close();
    await this.b.remoteFiles?.close();
  }
}
