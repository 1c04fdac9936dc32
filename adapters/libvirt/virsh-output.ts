/**
 * Pure parsing of virsh's host-side output (version, capabilities, memory and CPU counters, domstats,
 * pool XML, event lines) into contract types. No I/O: unit-tested on recorded output.
 */
import {
  type HostMetrics,
  PlatformError,
  type PlatformEvent,
  type StoragePool,
  type VmMetrics,
} from '../contract/index.js';
import { asArray, parser, str, type XmlNode } from './xml.js';

/** `virsh version --daemon` text. */
export function parseVersion(text: string): { library?: string; hypervisor?: string; daemon?: string; api?: string } {
  const get = (re: RegExp) => re.exec(text)?.[1];
  return {
    library: get(/Using library: libvirt (\S+)/),
    api: get(/Using API: (.+)/)?.trim(),
    hypervisor: get(/Running hypervisor: (.+)/)?.trim(),
    daemon: get(/Running against daemon: (\S+)/),
  };
}

/** `virsh capabilities` XML: host UUID and CPU/memory topology. */
export function parseCapabilities(xml: string): { uuid: string; cpus: number; memoryBytes: number } {
  const caps = (parser.parse(xml) as XmlNode).capabilities as XmlNode;
  const host = (caps?.host ?? {}) as XmlNode;
  const cells = asArray((((host.topology as XmlNode)?.cells as XmlNode)?.cell ?? []) as XmlNode[]);
  let cpus = 0;
  let memoryBytes = 0;
  for (const c of cells) {
    cpus += Number(str((c.cpus as XmlNode)?.['@num']));
    const mem = c.memory as XmlNode;
    memoryBytes += Number(str(mem)) * (str(mem?.['@unit']) === 'KiB' || !mem?.['@unit'] ? 1024 : 1);
  }
  return { uuid: str(host.uuid), cpus, memoryBytes };
}

/**
 * `virsh nodememstats` total (from /proc/meminfo). Preferred over the NUMA cell sum of capabilities,
 * which on hosts with memory outside NUMA node 0 (this lab: 4.8 of 23.5 GiB) under-reports.
 */
export function parseNodeMemTotal(text: string): number {
  const kib = /^total\s*:\s*(\d+) KiB/m.exec(text)?.[1];
  if (!kib) throw new PlatformError('no total in virsh nodememstats output', 'bad-output', text.slice(0, 200));
  return Number(kib) * 1024;
}

/** `virsh domstats` key=value blocks: per-domain vcpu and memory allocation. */
export function parseDomStats(text: string): { domain: string; vcpus: number; memoryBytes: number }[] {
  return [...parseDomStatsRecords(text)].map(([domain, r]) => ({
    domain,
    vcpus: Number(r['vcpu.current'] ?? 0),
    memoryBytes: Number(r['balloon.maximum'] ?? 0) * 1024,
  }));
}

/** `virsh domstats` as key/value records per domain. */
export function parseDomStatsRecords(text: string): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  let cur: Record<string, string> | undefined;
  for (const line of text.split('\n')) {
    const d = /^Domain: '(.+)'/.exec(line.trim());
    if (d) {
      cur = {};
      out.set(d[1] as string, cur);
    }
    const kv = /^\s*([\w.]+)=(.*)$/.exec(line);
    if (kv && cur) cur[kv[1] as string] = (kv[2] as string).trim();
  }
  return out;
}

export function toVmMetrics(r: Record<string, string>): VmMetrics {
  const n = (k: string) => (r[k] === undefined ? undefined : Number(r[k]));
  const indexed = (prefix: string) =>
    Array.from({ length: n(`${prefix}.count`) ?? 0 }, (_, i) => (k: string) => r[`${prefix}.${i}.${k}`]);
  return {
    ...(n('cpu.time') === undefined ? {} : { cpuTimeNs: n('cpu.time') }),
    ...(n('balloon.current') === undefined ? {} : { memoryBytes: (n('balloon.current') ?? 0) * 1024 }),
    disks: indexed('block').map((g) => ({
      target: g('name') ?? '',
      readBytes: Number(g('rd.bytes') ?? 0),
      writeBytes: Number(g('wr.bytes') ?? 0),
    })),
    nics: indexed('net').map((g) => ({
      name: g('name') ?? '',
      rxBytes: Number(g('rx.bytes') ?? 0),
      txBytes: Number(g('tx.bytes') ?? 0),
    })),
  };
}

/** `virsh pool-dumpxml`. */
export function parsePoolXml(xml: string): StoragePool {
  const pool = (parser.parse(xml) as XmlNode).pool as XmlNode | undefined;
  if (!pool) throw new PlatformError('not a libvirt pool XML document', 'bad-xml', xml.slice(0, 200));
  const bytes = (k: string) => Number(str(pool[k]));
  return {
    name: str(pool.name),
    type: str(pool['@type']),
    active: true,
    capacityBytes: bytes('capacity'),
    allocationBytes: bytes('allocation'),
    availableBytes: bytes('available'),
  };
}

/** `virsh nodecpustats` (nanoseconds). */
export function parseNodeCpuStats(text: string): HostMetrics['cpuTimeNs'] {
  const get = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { user: get('user'), system: get('system'), idle: get('idle') };
}

/** One line of `virsh event --all --loop --timestamp`. */
export function parseEventLine(line: string, receivedAt: number): PlatformEvent | undefined {
  const m = /^(\S+ \S+): event '([\w-]+)' for domain '?([^':]+)'?: ?(.*)$/.exec(line.trim());
  if (!m) return undefined;
  const type = m[2] as string;
  const kind: PlatformEvent['kind'] =
    type === 'lifecycle' || type === 'reboot'
      ? 'lifecycle'
      : type.startsWith('device')
        ? 'device'
        : type === 'metadata-change'
          ? 'config'
          : 'other';
  return {
    receivedAt,
    platformAt: m[1],
    vm: m[3],
    kind,
    detail: `${type}: ${m[4] ?? ''}`.trim(),
    source: 'push',
    raw: line.trim(),
  };
}
