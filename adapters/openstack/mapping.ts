/**
 * Pure parsing of OpenStack resource payloads (Nova, Glance, Neutron, Cinder, Placement) into
 * contract types (the shared session and error parsing is in responses.ts). No I/O: unit-tested on recorded payloads in fixtures/openstack.
 */
import {
  type AttachedDisk,
  type AttachedNic,
  type Host,
  type Image,
  type OwnershipTag,
  ownershipMarker,
  type PowerState,
  type StoragePool,
  type VmMetrics,
  type Volume,
} from '../contract/index.js';
import type { ServerFault } from './responses.js';

export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;

// ---- ownership -------------------------------------------------------------------------------------

/** Keys the adapter keeps in Nova/Cinder metadata ('.' and ':' are valid in Nova metadata keys). */
export const ownKeys = {
  marker: 'vmconform:marker',
  run: 'vmconform:run',
  created: 'vmconform:created',
  /** boot_id of the boot Nova's create did (the adapter stops it): the guest view skips it while it is still in the log. */
  createBoot: 'vmconform:create-boot',
  disk: 'vmconform:disk',
} as const;

export const runTag = (runId: string) => `vmc-run-${runId}`;

export function ownershipMetadata(tag: OwnershipTag): Record<string, string> {
  return { [ownKeys.marker]: tag.marker, [ownKeys.run]: tag.runId, [ownKeys.created]: tag.createdAt };
}

export function ownerOf(meta: Record<string, string> | undefined): OwnershipTag | undefined {
  if (!meta || meta[ownKeys.marker] !== ownershipMarker || !meta[ownKeys.run]) return undefined;
  return { marker: ownershipMarker, runId: meta[ownKeys.run] as string, createdAt: meta[ownKeys.created] ?? '' };
}

/** The caller's metadata: everything except the adapter's own keys. */
export function userMetadata(meta: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) if (!k.startsWith('vmconform:')) out[k] = v;
  return out;
}

// ---- Nova servers ------------------------------------------------------------------------------------

export interface NovaServer {
  id: string;
  name: string;
  status: string;
  metadata: Record<string, string>;
  tags?: string[];
  flavor: { vcpus?: number; ram?: number; disk?: number; original_name?: string };
  fault?: ServerFault;
  /** The image booted from; '' when the server booted from a volume. */
  image?: { id: string } | '';
  /** 'True' when the server has a config drive. */
  config_drive?: string;
  created?: string;
  updated?: string;
  'OS-EXT-AZ:availability_zone'?: string;
  'OS-EXT-SRV-ATTR:host'?: string | null;
  'OS-EXT-STS:task_state'?: string | null;
  'OS-EXT-STS:vm_state'?: string;
  'OS-EXT-STS:power_state'?: number;
}

/** Nova power_state codes (nova/compute/power_state.py) for a server in ERROR. */
const errorPower: Record<number, PowerState> = { 1: 'running', 3: 'paused', 4: 'stopped', 6: 'crashed', 7: 'paused' };

/** Nova status + task_state + power_state onto the contract's power states (INS-01). */
export function mapPower(s: NovaServer): { power: PowerState; raw: string } {
  const task = s['OS-EXT-STS:task_state'] ?? null;
  const power = s['OS-EXT-STS:power_state'];
  const raw = `${s.status} vm_state=${s['OS-EXT-STS:vm_state'] ?? '?'} task_state=${task ?? 'none'} power_state=${power ?? '?'}`;
  if (task) return { power: 'transitioning', raw };
  switch (s.status) {
    case 'ACTIVE':
      return { power: 'running', raw };
    case 'SHUTOFF':
      return { power: 'stopped', raw };
    case 'PAUSED':
    case 'SUSPENDED':
      return { power: 'paused', raw };
    case 'ERROR':
      // ERROR is an operation that failed (a build the scheduler could not place, a failed migration),
      // not a guest state: the guest is what power_state says. A guest that crashed or stopped itself
      // shows SHUTOFF after Nova's power-state sync, never ERROR.
      return { power: errorPower[power ?? 0] ?? 'stopped', raw };
    case 'VERIFY_RESIZE':
      return { power: power === 1 ? 'running' : 'stopped', raw };
    default:
      return { power: 'transitioning', raw };
  }
}

export interface VolumeAttachment {
  volumeId: string;
  device: string;
  tag?: string | null;
}

export interface InterfaceAttachment {
  port_id: string;
  net_id: string;
  mac_addr: string;
}

export interface NeutronNetwork {
  id: string;
  name: string;
  status: string;
  'provider:network_type'?: string | null;
  'provider:segmentation_id'?: number | null;
}

export interface CinderVolume {
  id: string;
  name: string;
  size: number;
  status: string;
  metadata: Record<string, string>;
  bootable?: string;
  'os-vol-host-attr:host'?: string | null;
  volume_image_metadata?: Record<string, string>;
  attachments: { server_id: string; device?: string }[];
}

/** Contract volume id: `<cinder pool>/<volume uuid>`, so a volume names the pool it lives in (STO-03). */
export const volumeRef = (v: CinderVolume) => `${v['os-vol-host-attr:host'] ?? 'unscheduled'}/${v.id}`;
export const volumeUuid = (ref: string) => ref.slice(ref.lastIndexOf('/') + 1);

/** The serial a guest sees for a Cinder volume: Nova's libvirt driver uses the volume id, 20 bytes of it. */
export const guestSerial = (volumeId: string) => volumeId.slice(0, 20);

export function attachedDisks(atts: VolumeAttachment[], volumes: Map<string, CinderVolume>): AttachedDisk[] {
  return [...atts]
    .sort((a, b) => a.device.localeCompare(b.device))
    .map((a) => {
      const v = volumes.get(a.volumeId);
      const target = a.device.replace(/^\/dev\//, '');
      return {
        id: a.volumeId,
        target,
        serial: guestSerial(a.volumeId),
        sizeBytes: (v?.size ?? 0) * GiB,
        volumeId: v ? volumeRef(v) : a.volumeId,
        format: 'raw',
        role: target === 'vda' ? 'boot' : 'data',
      };
    });
}

/**
 * NICs in the order the guest sees them. Nova's os-interface lists a server's ports in Neutron's order
 * (by id, so random), while the guest's order is the request's, hotplugged ones appended. The adapter
 * names every port `<vm>-nic<n>` in that order; a port made later for a reused index sorts after.
 */
export function inGuestOrder(
  ifaces: InterfaceAttachment[],
  ports: { id: string; name: string; created_at?: string }[],
): InterfaceAttachment[] {
  const key = (i: InterfaceAttachment) => {
    const p = ports.find((x) => x.id === i.port_id);
    return { n: Number(/-nic(\d+)$/.exec(p?.name ?? '')?.[1] ?? Number.MAX_SAFE_INTEGER), at: p?.created_at ?? '' };
  };
  return [...ifaces].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    return ka.n - kb.n || ka.at.localeCompare(kb.at);
  });
}

export function attachedNics(
  ifaces: InterfaceAttachment[],
  networks: Map<string, NeutronNetwork>,
  external: { networkId?: string; bridge?: string },
): AttachedNic[] {
  return ifaces.map((i, index) => {
    const n = networks.get(i.net_id);
    const isExternal = !!external.networkId && i.net_id === external.networkId;
    const vlan = n?.['provider:network_type'] === 'vlan' ? (n['provider:segmentation_id'] ?? undefined) : undefined;
    return {
      index,
      mac: i.mac_addr.toLowerCase(),
      network: isExternal && external.bridge ? external.bridge : (n?.name ?? i.net_id),
      external: isExternal,
      model: 'virtio',
      ...(vlan !== undefined && vlan !== null ? { vlan } : {}),
    };
  });
}

// ---- Cinder ----------------------------------------------------------------------------------------

export function toVolume(v: CinderVolume): Volume {
  const owner = ownerOf(v.metadata);
  const backing = v.volume_image_metadata?.image_id;
  return {
    id: volumeRef(v),
    name: v.name || v.id,
    sizeBytes: v.size * GiB,
    format: 'raw',
    ...(backing ? { backing } : {}),
    attachedTo: v.attachments.map((a) => a.server_id),
    ...(owner ? { owner } : {}),
  };
}

export interface CinderPool {
  name: string;
  capabilities: {
    total_capacity_gb: number | string;
    free_capacity_gb: number | string;
    allocated_capacity_gb?: number;
    volume_backend_name?: string;
    storage_protocol?: string;
  };
}

export function toStoragePool(p: CinderPool): StoragePool {
  const c = p.capabilities;
  // Cinder reports 'infinite'/'unknown' for some backends: those give no capacity (0), not a guess.
  const gb = (x: number | string | undefined) => (typeof x === 'number' ? x * GiB : 0);
  return {
    name: p.name,
    type: `${c.volume_backend_name ?? 'cinder'} (${c.storage_protocol ?? '?'})`,
    active: true,
    capacityBytes: gb(c.total_capacity_gb),
    allocationBytes: gb(c.allocated_capacity_gb ?? 0),
    availableBytes: gb(c.free_capacity_gb),
  };
}

// ---- Glance ------------------------------------------------------------------------------------------

export interface GlanceImage {
  id: string;
  name: string;
  status: string;
  disk_format: string;
  size: number | null;
  os_hash_algo?: string | null;
  os_hash_value?: string | null;
  checksum?: string | null;
  protected?: boolean;
  tags?: string[];
  [prop: string]: unknown;
}

/**
 * The direct-kernel-boot properties of a base image (kernel_id, ramdisk_id, os_command_line). A bare disk
 * imported through the API boots only with them, as the libvirt lab boots every disk with the lab's kernel;
 * a whole-disk image (its own boot loader) has none, and then none are copied.
 */
export function directBootProps(base: GlanceImage): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof base.kernel_id !== 'string' || typeof base.ramdisk_id !== 'string') return out;
  for (const k of ['kernel_id', 'ramdisk_id', 'os_command_line'] as const)
    if (typeof base[k] === 'string') out[k] = base[k] as string;
  return out;
}

export function toImage(i: GlanceImage): Image {
  const owner: OwnershipTag | undefined =
    i.vmconform_marker === ownershipMarker && typeof i.vmconform_run === 'string'
      ? { marker: ownershipMarker, runId: i.vmconform_run, createdAt: String(i.vmconform_created ?? '') }
      : undefined;
  const version = typeof i.vmconform_version === 'string' ? i.vmconform_version : undefined;
  return {
    id: i.id,
    // importImage names the Glance image <name>-<version> (Glance names are not unique keys); the
    // contract's name is the published name, the version stands beside it.
    name: version && i.name.endsWith(`-${version}`) ? i.name.slice(0, -version.length - 1) : i.name,
    ...(version ? { version } : {}),
    format: i.disk_format,
    sizeBytes: i.size ?? 0,
    ...(i.os_hash_algo && i.os_hash_value
      ? { checksum: { algorithm: i.os_hash_algo, value: i.os_hash_value } }
      : i.checksum
        ? { checksum: { algorithm: 'md5', value: i.checksum } }
        : {}),
    ...(owner ? { owner } : {}),
  };
}

// ---- hosts: Nova hypervisors + Placement ------------------------------------------------------------

export interface Inventory {
  total: number;
  reserved: number;
  allocation_ratio: number;
}

export interface HostSources {
  hypervisor: { id: string; hypervisor_hostname: string; service?: { host?: string } };
  inventories: Record<string, Inventory>;
  usages: Record<string, number>;
  site?: string;
  failureDomain?: string;
}

/** Capacity is what Placement lets the scheduler hand out: (total - reserved) x allocation ratio. */
export function toHost(h: HostSources): Host {
  const cap = (rc: string) => {
    const i = h.inventories[rc];
    return i ? Math.floor((i.total - i.reserved) * i.allocation_ratio) : 0;
  };
  return {
    // The compute service host: the name a server reports (OS-EXT-SRV-ATTR:host) and a placement request
    // takes (`host`), so a VM's host is one of the listed hosts (INV-02). Durable: a compute host keeps it.
    id: h.hypervisor.service?.host ?? h.hypervisor.hypervisor_hostname,
    name: h.hypervisor.hypervisor_hostname,
    ...(h.site ? { site: h.site } : {}),
    ...(h.failureDomain ? { failureDomain: h.failureDomain } : {}),
    capacity: { cpus: cap('VCPU'), memoryBytes: cap('MEMORY_MB') * MiB, storageBytes: cap('DISK_GB') * GiB },
    allocated: {
      cpus: h.usages.VCPU ?? 0,
      memoryBytes: (h.usages.MEMORY_MB ?? 0) * MiB,
      storageBytes: (h.usages.DISK_GB ?? 0) * GiB,
    },
  };
}

/**
 * Availability zone of a compute host: the zone of an aggregate holding it, else the zone
 * os-availability-zone/detail lists its `nova-compute` service in. Never `internal`: on an all-in-one
 * cloud the same host is listed there too, for its conductor and scheduler (Nova's
 * internal_service_availability_zone), which is not where its servers run.
 */
export function zoneOfHost(zones: unknown, host: string, aggregates?: unknown): string | undefined {
  const aggs = (aggregates as { aggregates?: { hosts: string[]; availability_zone: string | null }[] } | undefined)
    ?.aggregates;
  const fromAggregate = aggs?.find((a) => a.availability_zone && a.hosts.includes(host))?.availability_zone;
  if (fromAggregate) return fromAggregate;
  const list = (
    zones as { availabilityZoneInfo?: { zoneName: string; hosts?: Record<string, Record<string, unknown>> | null }[] }
  ).availabilityZoneInfo;
  return list?.find((z) => z.zoneName !== 'internal' && z.hosts?.[host] && 'nova-compute' in (z.hosts[host] ?? {}))
    ?.zoneName;
}

/** Failure domain of a host: the first aggregate holding it that is not an availability zone. */
export function failureDomainOfHost(aggregates: unknown, host: string): string | undefined {
  const list = (
    aggregates as
      | {
          aggregates?: {
            name: string;
            hosts: string[];
            availability_zone: string | null;
            metadata?: Record<string, string>;
          }[];
        }
      | undefined
  )?.aggregates;
  const a = list?.find((x) => x.hosts.includes(host) && !x.availability_zone);
  return a ? (a.metadata?.failure_domain ?? a.name) : undefined;
}

// ---- console log ----------------------------------------------------------------------------------------

const bootStart = /VMC (?:USERDATA|METADATA|READY) /;

/**
 * The console log from the boots after create's own. Nova's libvirt driver opens the log with
 * append="off" and os-start is a hard reboot, so the log restarts at every start; the API returns only
 * its last 100 KiB. A line offset saved at create therefore points into a different file: instead
 * the boot Nova's create did is recognised by its boot_id and dropped while it is still there (a
 * guest stopped since create; a soft reboot keeps appending to the same log).
 */
export function consoleSinceCreate(text: string, createBoot: string | undefined): string {
  if (!createBoot) return text;
  const lines = text.split('\n');
  const ready = lines.findIndex((l) => l.includes(`VMC READY boot_id=${createBoot}`));
  if (ready < 0) return text;
  const next = lines.findIndex((l, i) => i > ready && bootStart.test(l));
  return next < 0 ? '' : lines.slice(next).join('\n');
}

// ---- diagnostics --------------------------------------------------------------------------------------

/** libvirt's index of a disk name (vda 0, vdz 25, vdaa 26): its order among disks of one bus. */
const diskIndex = (target: string) =>
  [...target.replace(/^[a-z]d/, '')].reduce((n, ch) => (n + 1) * 26 + ch.charCodeAt(0) - 97, -1);

/**
 * The disks of a server in its domain's order, which is the order of Nova's diagnostics disk_details
 * (no names there): libvirt keeps the disks of a bus together, sorted by name, and Nova defines the
 * virtio root first, so the virtio disks come first (a local root `vda` when the server booted from an
 * image, then the volumes), and the config drive (an IDE/SATA cdrom) last.
 */
export function domainDiskOrder(
  atts: VolumeAttachment[],
  opts: { localRoot: boolean; configDrive: boolean },
): string[] {
  const virtio = new Set(atts.map((a) => a.device.replace(/^\/dev\//, '')));
  if (opts.localRoot) virtio.add('vda');
  const sorted = [...virtio].sort((a, b) => diskIndex(a) - diskIndex(b));
  return opts.configDrive ? [...sorted, 'config-drive'] : sorted;
}

/** Nova's standard diagnostics (microversion 2.48+): disk_details in the domain's disk order (domainDiskOrder). */
export function toVmMetrics(diag: unknown, diskTargets: string[]): VmMetrics {
  const d = diag as {
    cpu_details?: { time?: number | null }[];
    memory_details?: { used?: number | null };
    disk_details?: { read_bytes?: number | null; write_bytes?: number | null }[];
    nic_details?: { mac_address?: string; rx_octets?: number | null; tx_octets?: number | null }[];
  };
  const cpu = (d.cpu_details ?? []).reduce((a, c) => a + (c.time ?? 0), 0);
  return {
    ...(d.cpu_details?.length ? { cpuTimeNs: cpu } : {}),
    ...(d.memory_details?.used != null ? { memoryBytes: d.memory_details.used * MiB } : {}),
    disks: (d.disk_details ?? []).map((x, i) => ({
      target: diskTargets[i] ?? `disk${i}`,
      readBytes: x.read_bytes ?? 0,
      writeBytes: x.write_bytes ?? 0,
    })),
    nics: (d.nic_details ?? []).map((x) => ({
      name: x.mac_address ?? '',
      rxBytes: x.rx_octets ?? 0,
      txBytes: x.tx_octets ?? 0,
    })),
  };
}

// ---- instance actions ------------------------------------------------------------------------------------

export interface InstanceAction {
  action: string;
  request_id: string;
  start_time: string;
  updated_at?: string | null;
  message?: string | null;
  events?: {
    event: string;
    start_time: string;
    finish_time: string | null;
    result: string | null;
    traceback?: string | null;
  }[];
}

/** os-instance-actions/{request_id} as a task: running until every event finished, failed if any errored. */
export function actionStatus(a: InstanceAction): {
  status: 'running' | 'succeeded' | 'failed';
  endedAt?: string;
  error?: string;
} {
  const events = a.events ?? [];
  const failed = events.find((e) => e.result === 'Error');
  if (failed)
    return {
      status: 'failed',
      endedAt: failed.finish_time ?? a.updated_at ?? '',
      error: `${failed.event}: ${a.message ?? 'Error'}`,
    };
  if (events.length === 0 || events.some((e) => !e.finish_time)) return { status: 'running' };
  const end = events
    .map((e) => e.finish_time as string)
    .sort()
    .at(-1);
  return { status: 'succeeded', ...(end ? { endedAt: end } : {}) };
}

/**
 * Why a resize ended without VERIFY_RESIZE: its instance action failed (Nova puts the server back to
 * its former state, with no fault). On one compute host the usual cause is allow_resize_to_same_host
 * (False by default), which the scheduler reports only as NoValidHost.
 */
export function resizeFailure(a: InstanceAction, computeHosts: number): string | undefined {
  const st = actionStatus(a);
  if (st.status !== 'failed') return undefined;
  const details = (a.events ?? [])
    .map((e) => (e as { details?: string | null }).details)
    .filter((d): d is string => !!d);
  const why = details[0] ?? st.error ?? 'Error';
  const oneHost =
    computeHosts === 1 && /No valid host/i.test(why)
      ? ': this cloud has one compute host, so a resize needs [DEFAULT] allow_resize_to_same_host = True in nova.conf (False by default), or the flavor does not fit the host'
      : '';
  return `resize failed (instance action ${a.request_id}: ${why})${oneHost}`;
}

// ---- flavors -------------------------------------------------------------------------------------------

/** Flavors the adapter creates for a spec's shape; volume-backed servers need no root disk in the flavor. */
export const flavorName = (vcpus: number, ramMiB: number, diskGiB = 0) =>
  `vmc-c${vcpus}-m${ramMiB}${diskGiB ? `-d${diskGiB}` : ''}`;

/** The root disk of a server booted from an image (no volume: a file on the compute host, `vda`). */
export function localRootDisk(s: NovaServer): AttachedDisk | undefined {
  if (typeof s.image !== 'object' || !s.image.id) return undefined;
  return {
    id: 'vda',
    target: 'vda',
    serial: '',
    sizeBytes: (s.flavor.disk ?? 0) * GiB,
    volumeId: `nova-local/${s.id}/disk`,
    format: 'qcow2',
    role: 'boot',
  };
}
export const gibCeil = (bytes: number) => Math.max(1, Math.ceil(bytes / GiB));
