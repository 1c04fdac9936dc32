/** Compute hosts from Nova hypervisors and their Placement inventories; per-VM metrics from diagnostics. */
import {
  type Host,
  type HostMetrics,
  type HostOps,
  Unsupported,
  type VmMetrics,
  type VmRef,
} from '../contract/index.js';
import type { OpenStackBase } from './core.js';
import {
  domainDiskOrder,
  failureDomainOfHost,
  type Inventory,
  localRootDisk,
  toHost,
  toVmMetrics,
  type VolumeAttachment,
  zoneOfHost,
} from './mapping.js';

export interface Hypervisor {
  id: string;
  hypervisor_hostname: string;
  hypervisor_type?: string;
  service?: { host?: string };
}

export class OpenStackHosts implements HostOps {
  constructor(private readonly os: OpenStackBase) {}

  async hypervisors(): Promise<Hypervisor[]> {
    return this.os.list<Hypervisor>('compute', '/os-hypervisors/detail', 'hypervisors');
  }

  async hosts(): Promise<Host[]> {
    const { os } = this;
    const [hyps, zones, aggs] = await Promise.all([
      this.hypervisors(),
      os.nova('GET', '/os-availability-zone/detail').then((r) => r.body),
      os.nova('GET', '/os-aggregates').then((r) => r.body),
    ]);
    const out: Host[] = [];
    for (const h of hyps) {
      // Since compute 2.53 the hypervisor id is the Placement resource provider uuid.
      const inv = await os.call<{ inventories: Record<string, Inventory> }>(
        'placement',
        'GET',
        `/resource_providers/${h.id}/inventories`,
      );
      const use = await os.call<{ usages: Record<string, number> }>(
        'placement',
        'GET',
        `/resource_providers/${h.id}/usages`,
      );
      const host = h.service?.host ?? h.hypervisor_hostname;
      const site = zoneOfHost(zones, host, aggs);
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

  async metrics(vm: VmRef): Promise<VmMetrics> {
    const diag = (await this.os.nova<{ config_drive?: boolean }>('GET', `/servers/${vm.id}/diagnostics`)).body;
    const [s, atts] = await Promise.all([
      this.os.server(vm.id),
      this.os
        .nova<{ volumeAttachments: VolumeAttachment[] }>('GET', `/servers/${vm.id}/os-volume_attachments`)
        .then((r) => r.body.volumeAttachments),
    ]);
    return toVmMetrics(
      diag,
      domainDiskOrder(atts, {
        localRoot: !!localRootDisk(s),
        configDrive: diag.config_drive ?? s.config_drive === 'True',
      }),
    );
  }

  async hostMetrics(): Promise<HostMetrics> {
    throw new Unsupported(
      'OpenStack exposes no host CPU time through its APIs (compute 2.88 removed hypervisor statistics; telemetry needs Ceilometer/Gnocchi)',
      'platform',
    );
  }
}
