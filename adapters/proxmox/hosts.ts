/** Proxmox hosts: the cluster's nodes (placement from the lab config), and per-VM counters from status/current. */
import {
  type Host,
  type HostMetrics,
  type HostOps,
  Unsupported,
  type VmMetrics,
  type VmRef,
} from '../contract/index.js';
import type { ProxmoxBase } from './core.js';
import { hostsFromResources, parseDisks } from './mapping.js';

export class ProxmoxHosts implements HostOps {
  constructor(private readonly b: ProxmoxBase) {}

  async hosts(): Promise<Host[]> {
    return hostsFromResources(await this.b.resources(), this.b.c.placement);
  }

  async metrics(vm: VmRef): Promise<VmMetrics> {
    const l = await this.b.locate(vm);
    const s = await this.b.api.get<{
      mem?: number;
      diskread?: number;
      diskwrite?: number;
      netin?: number;
      netout?: number;
    }>(`${this.b.nodePath}/qemu/${l.vmid}/status/current`);
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
}
