/**
 * Pure mapping between libvirt's structured output (domain/volume/pool XML, virsh text tables)
 * and contract types. No I/O here, so all of it is unit-tested on recorded output.
 */
import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import {
  type AttachedDisk,
  type AttachedNic,
  type HostMetrics,
  type NicSpec,
  type OwnershipTag,
  ownershipMarker,
  type Placement,
  PlatformError,
  type PlatformEvent,
  type PowerState,
  type StoragePool,
  type VmConfig,
  type VmMetrics,
  type Volume,
} from '../contract/index.js';

export const metadataNamespace = 'urn:dataverket:vmconform:1';

type XmlNode = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: true,
  parseAttributeValue: false,
  parseTagValue: false,
  // Metadata values are returned verbatim (INT-01): leading and trailing spaces are data.
  trimValues: false,
  isArray: (name) => ['disk', 'interface', 'meta', 'volume', 'controller', 'cell', 'owned'].includes(name),
});

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  format: true,
  suppressEmptyNode: true,
});

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const str = (v: unknown): string =>
  v === undefined || v === null ? '' : typeof v === 'object' ? String((v as XmlNode)['#text'] ?? '') : String(v);

/** libvirt domain states (virDomainState) as `virsh domstate` prints them, mapped in full (INS-01). */
export const libvirtStateMap: Record<string, PowerState> = {
  'no state': 'transitioning',
  running: 'running',
  idle: 'running',
  blocked: 'running',
  paused: 'paused',
  'in shutdown': 'transitioning',
  'shut off': 'stopped',
  crashed: 'crashed',
  pmsuspended: 'paused',
  dying: 'transitioning',
};

export function mapDomState(output: string): { power: PowerState; raw: string } {
  const raw = output.trim();
  const state = raw.replace(/\s*\(.*\)$/, '');
  const power = libvirtStateMap[state];
  if (!power) throw new PlatformError(`unmapped libvirt domain state '${raw}'`, 'unmapped-state', raw);
  return { power, raw };
}

export interface DomainBuild {
  name: string;
  uuid?: string;
  vcpus: number;
  memoryMiB: number;
  accel: 'kvm' | 'tcg';
  kernel: string;
  initrd: string;
  cmdline: string;
  consoleLog: string;
  pool: string;
  disks: { volume: string; target: string; serial: string; format: string; readonly?: boolean }[];
  nics: (NicSpec & { mac: string })[];
  owner: OwnershipTag;
  metadata: Record<string, string>;
  placement?: Placement;
  /** Volumes created for this VM, released when it is deleted (LC-05). */
  ownedVolumes: string[];
  /** UEFI: libvirt picks OVMF from the firmware descriptors (Secure Boot off: the lab kernel is direct-booted). */
  firmware?: 'bios' | 'uefi';
}

/** Spare PCIe root ports: q35 needs a free port per hot-plugged device. */
const spareRootPorts = 8;

export function diskXml(d: DomainBuild['disks'][number], pool: string): XmlNode {
  return {
    '@type': 'volume',
    '@device': 'disk',
    driver: { '@name': 'qemu', '@type': d.format },
    source: { '@pool': pool, '@volume': d.volume },
    target: { '@dev': d.target, '@bus': 'virtio' },
    serial: d.serial,
    ...(d.readonly ? { readonly: '' } : {}),
  };
}

export function nicXml(n: NicSpec & { mac: string }): XmlNode {
  return {
    '@type': n.external ? 'bridge' : 'network',
    mac: { '@address': n.mac },
    source: n.external ? { '@bridge': n.network } : { '@network': n.network },
    model: { '@type': 'virtio' },
    ...(n.vlan === undefined ? {} : { vlan: { tag: { '@id': String(n.vlan) } } }),
  };
}

/** A single device element for attach-device. */
export function buildDeviceXml(root: 'disk' | 'interface', node: XmlNode): string {
  return builder.build({ [root]: node }) as string;
}

export function metadataXml(b: Pick<DomainBuild, 'owner' | 'metadata' | 'placement' | 'ownedVolumes'>): XmlNode {
  return {
    'vmc:vmconform': {
      '@xmlns:vmc': metadataNamespace,
      'vmc:owner': { '@marker': b.owner.marker, '@run': b.owner.runId, '@created': b.owner.createdAt },
      'vmc:placement': {
        ...(b.placement?.site ? { '@site': b.placement.site } : {}),
        ...(b.placement?.host ? { '@host': b.placement.host } : {}),
        ...(b.placement?.failureDomain ? { '@failure-domain': b.placement.failureDomain } : {}),
      },
      'vmc:meta': Object.entries(b.metadata).map(([k, v]) => ({ '@key': k, '#text': v })),
      'vmc:owned': b.ownedVolumes.map((v) => ({ '@volume': v })),
    },
  };
}

export function buildDomainXml(b: DomainBuild): string {
  const domain: XmlNode = {
    '@type': b.accel === 'kvm' ? 'kvm' : 'qemu',
    name: b.name,
    ...(b.uuid ? { uuid: b.uuid } : {}),
    metadata: metadataXml(b),
    memory: { '@unit': 'MiB', '#text': String(b.memoryMiB) },
    vcpu: String(b.vcpus),
    os: {
      ...(b.firmware === 'uefi' ? { '@firmware': 'efi' } : {}),
      type: { '@arch': 'x86_64', '@machine': 'q35', '#text': 'hvm' },
      ...(b.firmware === 'uefi' ? { firmware: { feature: { '@enabled': 'no', '@name': 'secure-boot' } } } : {}),
      kernel: b.kernel,
      initrd: b.initrd,
      cmdline: b.cmdline,
    },
    features: { acpi: '', apic: '' },
    // 'host-model' needs a working KVM; TCG uses QEMU's default model.
    ...(b.accel === 'kvm' ? { cpu: { '@mode': 'host-model' } } : {}),
    on_poweroff: 'destroy',
    on_reboot: 'restart',
    on_crash: 'destroy',
    devices: {
      disk: b.disks.map((d) => diskXml(d, b.pool)),
      interface: b.nics.map(nicXml),
      controller: [
        { '@type': 'pci', '@index': '0', '@model': 'pcie-root' },
        ...Array.from({ length: spareRootPorts }, (_, i) => ({
          '@type': 'pci',
          '@index': String(i + 1),
          '@model': 'pcie-root-port',
        })),
      ],
      serial: { '@type': 'pty', log: { '@file': b.consoleLog, '@append': 'on' }, target: { '@port': '0' } },
      console: { '@type': 'pty', target: { '@type': 'serial', '@port': '0' } },
    },
  };
  // suppressEmptyNode renders '' as a self-closing element (<acpi/>, <readonly/>).
  return builder.build({ domain }) as string;
}

export interface ParsedDomain {
  uuid: string;
  name: string;
  config: VmConfig;
  ownedVolumes: string[];
  consoleLog?: string;
  disksRaw: { target: string; pool: string; volume: string; serial: string; format: string; readonly: boolean }[];
}

export function parseOwner(meta: XmlNode | undefined): OwnershipTag | undefined {
  const owner = meta?.owner as XmlNode | undefined;
  if (!owner || owner['@marker'] !== ownershipMarker) return undefined;
  return { marker: ownershipMarker, runId: str(owner['@run']), createdAt: str(owner['@created']) };
}

export function parseDomainXml(xml: string, sizes: Record<string, number> = {}): ParsedDomain {
  const doc = parser.parse(xml) as XmlNode;
  const domain = doc.domain as XmlNode | undefined;
  if (!domain) throw new PlatformError('not a libvirt domain XML document', 'bad-xml', xml.slice(0, 200));
  const devices = (domain.devices ?? {}) as XmlNode;
  const meta = ((domain.metadata ?? {}) as XmlNode).vmconform as XmlNode | undefined;

  const disksRaw = asArray(devices.disk as XmlNode | XmlNode[])
    .filter((d) => d['@device'] === 'disk')
    .map((d) => {
      const src = (d.source ?? {}) as XmlNode;
      return {
        target: str((d.target as XmlNode)?.['@dev']),
        pool: str(src['@pool']),
        volume: str(src['@volume'] ?? src['@file']),
        serial: str(d.serial),
        format: str((d.driver as XmlNode)?.['@type']) || 'raw',
        readonly: d.readonly !== undefined,
      };
    });
  const disks: AttachedDisk[] = disksRaw.map((d) => ({
    id: d.target,
    target: d.target,
    serial: d.serial,
    sizeBytes: sizes[`${d.pool}/${d.volume}`] ?? 0,
    volumeId: d.pool ? `${d.pool}/${d.volume}` : d.volume,
    format: d.format,
    role: d.serial === 'boot' ? 'boot' : d.serial === 'cidata' ? 'seed' : 'data',
  }));

  const nics: AttachedNic[] = asArray(devices.interface as XmlNode | XmlNode[]).map((n, index) => {
    const src = (n.source ?? {}) as XmlNode;
    const tag = asArray((n.vlan as XmlNode | undefined)?.tag as XmlNode | XmlNode[] | undefined)[0];
    return {
      index,
      mac: str((n.mac as XmlNode)?.['@address']).toLowerCase(),
      network: str(src['@network'] ?? src['@bridge']),
      external: n['@type'] === 'bridge',
      model: str((n.model as XmlNode)?.['@type']),
      ...(tag ? { vlan: Number(tag['@id']) } : {}),
    };
  });

  const memory = domain.memory as XmlNode;
  const unit = str(memory?.['@unit']) || 'KiB';
  const memFactor: Record<string, number> = { KiB: 1 / 1024, MiB: 1, GiB: 1024, b: 1 / 1048576, bytes: 1 / 1048576 };
  const placementNode = (meta?.placement ?? {}) as XmlNode;
  const placement: Placement = {
    ...(placementNode['@site'] ? { site: str(placementNode['@site']) } : {}),
    ...(placementNode['@host'] ? { host: str(placementNode['@host']) } : {}),
    ...(placementNode['@failure-domain'] ? { failureDomain: str(placementNode['@failure-domain']) } : {}),
  };
  const metadata: Record<string, string> = {};
  for (const m of asArray(meta?.meta as XmlNode | XmlNode[])) metadata[str(m['@key'])] = str(m['#text'] ?? '');

  const serial = devices.serial as XmlNode | undefined;
  const log = (Array.isArray(serial) ? serial[0] : serial)?.log as XmlNode | undefined;
  // Before its first start libvirt may keep only firmware='efi'; afterwards it names the OVMF loader.
  const os = (domain.os ?? {}) as XmlNode;
  const uefi = os['@firmware'] === 'efi' || /OVMF|edk2|efi/i.test(str(os.loader));

  return {
    uuid: str(domain.uuid),
    name: str(domain.name),
    disksRaw,
    ownedVolumes: asArray(meta?.owned as XmlNode | XmlNode[]).map((o) => str(o['@volume'])),
    ...(log ? { consoleLog: str(log['@file']) } : {}),
    config: {
      vcpus: Number(str(domain.vcpu)),
      memoryMiB: Math.round(Number(str(memory)) * (memFactor[unit] ?? 1 / 1024)),
      disks,
      nics,
      metadata,
      owner: parseOwner(meta),
      placement,
      firmware: uefi ? 'uefi' : 'bios',
    },
  };
}

export function parseVolumeXml(xml: string): {
  name: string;
  key: string;
  path: string;
  capacity: number;
  allocation: number;
  format: string;
  backing?: string;
} {
  const vol = (parser.parse(xml) as XmlNode).volume as XmlNode[] | undefined;
  const v = vol?.[0];
  if (!v) throw new PlatformError('not a libvirt volume XML document', 'bad-xml', xml.slice(0, 200));
  const target = (asArray(v.target as XmlNode | XmlNode[])[0] ?? {}) as XmlNode;
  const backing = v.backingStore as XmlNode | undefined;
  return {
    name: str(v.name),
    key: str(v.key),
    path: str(target.path),
    capacity: Number(str(v.capacity)),
    allocation: Number(str(v.allocation)),
    format: str((target.format as XmlNode)?.['@type']) || 'raw',
    ...(backing?.path ? { backing: str(backing.path) } : {}),
  };
}

export function toVolume(pool: string, v: ReturnType<typeof parseVolumeXml>, attachedTo: string[]): Volume {
  return {
    id: `${pool}/${v.name}`,
    name: v.name,
    sizeBytes: v.capacity,
    allocatedBytes: v.allocation,
    format: v.format,
    ...(v.backing ? { backing: v.backing } : {}),
    attachedTo,
  };
}

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

/** The run that owns a volume, from its vmc-<run id>- name prefix (libvirt volumes have no metadata). */
export function ownedVolumeRun(name: string): string | undefined {
  return /^vmc-(\d{8}t\d{4}-[0-9a-f]{4})-/.exec(name)?.[1];
}

/** Deterministic virtio target names: vda is boot, data disks follow in declared order. */
export { nextFreeTarget, targetFor } from '../contract/index.js';

/**
 * libvirt has no image versions: the adapter publishes version V of image N as volume `N--V` in the
 * image pool and never writes to an existing one (the platform itself would let vol-upload overwrite it).
 */
export function imageVolumeName(name: string, version: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(version) || version.includes('--'))
    throw new PlatformError(
      `image version '${version}': expected letters, digits, '.', '_' or '-' (no '--')`,
      'bad-version',
      '',
    );
  return `${name}--${version}`;
}

export function parseImageVolumeName(volume: string): { name: string; version?: string } {
  const i = volume.lastIndexOf('--');
  return i > 0 ? { name: volume.slice(0, i), version: volume.slice(i + 2) } : { name: volume };
}
