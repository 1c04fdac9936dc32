/** What the Incus adapter says about itself and the platform, what the harness owns there, and shutdown. */
import type { Capabilities, CoreOps, OwnedObject, PlatformInfo } from '../contract/index.js';
import type { IncusBase } from './core.js';
import { ownerOf, volumeId } from './mapping.js';

export class IncusCore implements CoreOps {
  constructor(private readonly b: IncusBase) {}

  async capabilities(): Promise<Capabilities> {
    const { cfg, isContainer } = this.b;
    const prereq = { ...cfg.prereqMissing };
    if (isContainer && cfg.vmUnavailable) prereq['vm-instances'] = cfg.vmUnavailable;
    if (cfg.sizesNotEnforced) prereq['disk-size'] = cfg.sizesNotEnforced;
    return {
      instanceType: isContainer ? 'container' : 'vm',
      evidence: isContainer ? 'container-only' : 'real',
      hotplugDisk: true,
      hotplugNic: true,
      // Custom volumes grow through their `size` key; a dir pool only records it (no quota), so offline only.
      resizeDisk: 'offline',
      rename: 'stopped-only',
      taskHandles: true,
      events: 'push',
      guestView: isContainer ? 'exec' : 'serial-console',
      metadataFilter: 'platform',
      externalBridge: true,
      // A single server evacuates by stopping; a cluster member evacuates with live (VM) or cold migration.
      hostMaintenance: (await this.b.clustered()) ? 'evacuate-cold' : 'stop-only',
      prereqMissing: prereq,
    };
  }

  async platformInfo(): Promise<PlatformInfo> {
    const s = await this.b.server();
    return {
      platform: 'incus',
      product: 'Incus',
      version: s.environment.server_version,
      apiVersion: s.api_version,
      ...(s.environment.driver
        ? { hypervisor: `${s.environment.driver} ${s.environment.driver_version ?? ''}`.trim() }
        : {}),
      accel: this.b.isContainer ? 'container' : 'kvm',
      endpoint: this.b.cfg.socketPath ?? this.b.cfg.url ?? '',
    };
  }

  async owned(): Promise<OwnedObject[]> {
    const out: OwnedObject[] = [];
    for (const i of await this.b.instances()) {
      const o = ownerOf(i.config);
      if (o) out.push({ kind: 'vm', id: i.config['volatile.uuid'] as string, name: i.name, runId: o.runId });
    }
    for (const v of await this.b.customVolumes()) {
      const o = ownerOf(v.config);
      if (o) out.push({ kind: 'volume', id: volumeId(this.b.cfg.pool, v.name), name: v.name, runId: o.runId });
    }
    for (const img of await this.b.rawImages()) {
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

  async close(): Promise<void> {
    await this.b.client.close();
  }
}
