/** Incus hosts (the server or each cluster member) with capacity and allocation, and per-instance metrics. */
import {
  type Host,
  type HostMetrics,
  type HostOps,
  Unsupported,
  type VmMetrics,
  type VmRef,
} from '../contract/index.js';
import { enc, type IncusBase } from './core.js';
import { capacityFrom, type IncusResources, metricValues, parseSize } from './mapping.js';

export class IncusHosts implements HostOps {
  constructor(private readonly b: IncusBase) {}

  async hosts(): Promise<Host[]> {
    const { cfg, client } = this.b;
    const s = await this.b.server();
    const pool = await this.poolResources();
    // Allocation counts what runs: a stopped instance holds no CPU or memory.
    const all = (await this.b.instances()).filter((i) => i.status === 'Running');
    const allocated = {
      cpus: all.reduce((a, i) => a + Number(i.config['limits.cpu'] ?? 0), 0),
      memoryBytes: all.reduce((a, i) => a + parseSize(i.config['limits.memory']), 0),
      storageBytes: pool.used,
    };
    const place = {
      ...(cfg.site ? { site: cfg.site } : {}),
      ...(cfg.failureDomain ? { failureDomain: cfg.failureDomain } : {}),
    };
    if (!s.environment.server_clustered) {
      const r = await client.sync<IncusResources>('GET', '/1.0/resources', {}, false);
      return [
        {
          id: s.environment.server_name,
          name: s.environment.server_name,
          ...place,
          capacity: capacityFrom(r, pool.total),
          allocated,
        },
      ];
    }
    const members = await client.sync<
      { server_name: string; failure_domain?: string; config?: Record<string, string> }[]
    >('GET', '/1.0/cluster/members', { query: { recursion: 1 } }, false);
    const out: Host[] = [];
    for (const m of members) {
      const r = await client.sync<IncusResources>('GET', '/1.0/resources', { query: { target: m.server_name } }, false);
      const mine = all.filter((i) => i.location === m.server_name);
      out.push({
        id: m.server_name,
        name: m.server_name,
        ...place,
        ...(m.failure_domain ? { failureDomain: m.failure_domain } : {}),
        capacity: capacityFrom(r),
        allocated: {
          cpus: mine.reduce((a, i) => a + Number(i.config['limits.cpu'] ?? 0), 0),
          memoryBytes: mine.reduce((a, i) => a + parseSize(i.config['limits.memory']), 0),
        },
      });
    }
    return out;
  }

  private async poolResources(): Promise<{ total: number; used: number }> {
    const r = await this.b.client.sync<{ space?: { total?: number; used?: number } }>(
      'GET',
      `/1.0/storage-pools/${enc(this.b.cfg.pool)}/resources`,
      {},
      false,
    );
    return { total: r.space?.total ?? 0, used: r.space?.used ?? 0 };
  }

  async metrics(vm: VmRef): Promise<VmMetrics> {
    const name = await this.b.nameOf(vm);
    const s = await this.b.client.sync<{
      cpu?: { usage: number };
      memory?: { usage: number };
      network?: Record<string, { counters?: { bytes_received: number; bytes_sent: number } }> | null;
    }>('GET', `/1.0/instances/${enc(name)}/state`);
    const prom = await this.b.client.raw('GET', '/1.0/metrics').catch(() => undefined);
    const text = typeof prom?.body === 'string' ? prom.body : '';
    const reads = metricValues(text, 'incus_disk_read_bytes_total', name);
    const writes = metricValues(text, 'incus_disk_written_bytes_total', name);
    return {
      ...(s.cpu ? { cpuTimeNs: s.cpu.usage } : {}),
      ...(s.memory ? { memoryBytes: s.memory.usage } : {}),
      // Incus labels disk counters with the block device they hit (for a dir-pool container, the host's disk).
      disks: reads.map((r) => ({
        target: r.labels.device ?? '',
        readBytes: r.value,
        writeBytes: writes.find((w) => w.labels.device === r.labels.device)?.value ?? 0,
      })),
      nics: Object.entries(s.network ?? {})
        .filter(([n]) => n !== 'lo')
        .map(([n, v]) => ({ name: n, rxBytes: v.counters?.bytes_received ?? 0, txBytes: v.counters?.bytes_sent ?? 0 })),
    };
  }

  async hostMetrics(): Promise<HostMetrics> {
    const r = await this.b.client.sync<IncusResources>('GET', '/1.0/resources', {}, false);
    throw new Unsupported(
      `Incus exposes host memory (${r.memory?.used ?? '?'} of ${r.memory?.total ?? '?'} bytes used, /1.0/resources) but no host CPU time counters: /1.0/metrics carries per-instance metrics only`,
      'platform',
    );
  }
}
