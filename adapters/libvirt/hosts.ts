/** libvirt hosts: one daemon is one host; capacity, allocation and statistics from virsh. */
import { type Host, type HostMetrics, type HostOps, NotFound, type VmMetrics, type VmRef } from '../contract/index.js';
import type { LibvirtBase } from './core.js';
import {
  parseCapabilities,
  parseDomStats,
  parseDomStatsRecords,
  parseNodeCpuStats,
  parseNodeMemTotal,
  toVmMetrics,
} from './virsh-output.js';

export class LibvirtHosts implements HostOps {
  constructor(private readonly b: LibvirtBase) {}

  async hosts(): Promise<Host[]> {
    const { b } = this;
    const caps = parseCapabilities(await b.virsh.run(['capabilities']));
    b.hostId = caps.uuid;
    const stats = parseDomStats(await b.virsh.run(['domstats', '--list-active', '--vcpu', '--balloon']));
    const memoryBytes = parseNodeMemTotal(await b.virsh.run(['nodememstats']));
    const pool = await b.virsh.run(['pool-dumpxml', b.cfg.pool]);
    const num = (tag: string) => Number(new RegExp(`<${tag}[^>]*>(\\d+)<`).exec(pool)?.[1] ?? 0);
    return [
      {
        id: caps.uuid,
        name: b.cfg.uri,
        ...(b.cfg.site ? { site: b.cfg.site } : {}),
        ...(b.cfg.failureDomain ? { failureDomain: b.cfg.failureDomain } : {}),
        capacity: { cpus: caps.cpus, memoryBytes, storageBytes: num('capacity') },
        allocated: {
          cpus: stats.reduce((a, s) => a + s.vcpus, 0),
          memoryBytes: stats.reduce((a, s) => a + s.memoryBytes, 0),
          storageBytes: num('allocation'),
        },
      },
    ];
  }

  async metrics(vm: VmRef): Promise<VmMetrics> {
    const records = parseDomStatsRecords(
      await this.b.virsh.run(['domstats', vm.id, '--cpu-total', '--balloon', '--block', '--interface']),
    );
    const r = [...records.values()][0];
    if (!r) throw new NotFound(`no statistics for ${vm.name}`);
    return toVmMetrics(r);
  }

  async hostMetrics(): Promise<HostMetrics> {
    const mem = await this.b.virsh.run(['nodememstats']);
    return {
      cpuTimeNs: parseNodeCpuStats(await this.b.virsh.run(['nodecpustats'])),
      memoryTotalBytes: parseNodeMemTotal(mem),
      memoryFreeBytes: Number(/^free\s*:\s*(\d+) KiB/m.exec(mem)?.[1] ?? 0) * 1024,
    };
  }
}
