/**
 * Pure mapping between libvirt's domain and volume XML and contract types (virsh's host-side
 * output is parsed in virsh-output.ts). No I/O here, so all of it is unit-tested on recorded output.
 */
import {
  type AttachedDisk,
  type AttachedNic,
  type NicSpec,
  type OwnershipTag,
  ownershipMarker,
  type Placement,
  PlatformError,
  type PowerState,
  type VmConfig,
  type Volume,
} from '../contract/index.js';
import { asArray, builder, parser, str, type XmlNode } from './xml.js';

export const metadataNamespace = 'urn:dataverket:vmconform:1';

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
  /** A QEMU binary other than libvirt's default. */
  emulator?: string;
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
      ...(b.emulator ? { emulator: b.emulator } : {}),
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
