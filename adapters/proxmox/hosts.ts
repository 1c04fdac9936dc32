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

  /**
   * Nodes from /cluster/resources; what running VMs were given from the node's VM list, as the VM rows of
   * /cluster/resources keep the state pvestatd last saw (up to 10 s old, `unknown` for a new VM).
   */
  async hosts(): Promise<Host[]> {
    const nodes = await this.b.resources('node');
    const vms = (await this.b.vmList()).map((v) => ({
      id: `qemu/${v.vmid}`,
      type: 'qemu',
      node: this.b.c.node,
      vmid: v.vmid,
      status: v.status,
      ...(v.cpus !== undefined ? { maxcpu: v.cpus } : {}),
      ...(v.maxmem !== undefined ? { maxmem: v.maxmem } : {}),
    }));
    return hostsFromResources([...nodes, ...vms], this.b.c.placement);
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
