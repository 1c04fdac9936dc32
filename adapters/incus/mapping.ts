/**
 * Pure parsing and building of Incus objects: instances into contract state, devices, events,
 * resources (operations and error envelopes are in operations.ts). No I/O; unit-tested on recorded payloads.
 */
import {
  type AttachedDisk,
  type AttachedNic,
  type HostCapacity,
  nextFreeTarget,
  type OwnershipTag,
  ownershipMarker,
  type Placement,
  type PlatformEvent,
  type PowerState,
  type VmState,
} from '../contract/index.js';

export { nextFreeTarget };

export type IncusDevice = Record<string, string>;

export interface IncusInstance {
  name: string;
  type: 'container' | 'virtual-machine';
  status: string;
  status_code?: number;
  config: Record<string, string>;
  devices: Record<string, IncusDevice>;
  expanded_devices?: Record<string, IncusDevice>;
  expanded_config?: Record<string, string>;
  project?: string;
  location?: string;
  created_at?: string;
  state?: IncusInstanceState | null;
}

export interface IncusInstanceState {
  status: string;
  status_code?: number;
  cpu?: { usage: number };
  memory?: { usage: number };
  network?: Record<string, { hwaddr?: string; counters?: { bytes_received: number; bytes_sent: number } }> | null;
  pid?: number;
}

/** Config keys the harness owns: ownership, caller metadata and placement live in Incus's free-form user.* space. */
export const keys = {
  marker: 'user.vmconform.marker',
  run: 'user.vmconform.run',
  created: 'user.vmconform.created',
  /** On volumes: the instance uuid the volume was created for (released with it). */
  vm: 'user.vmconform.vm',
  metaPrefix: 'user.meta.',
  placementPrefix: 'user.placement.',
} as const;

export function ownershipConfig(tag: OwnershipTag): Record<string, string> {
  return { [keys.marker]: tag.marker, [keys.run]: tag.runId, [keys.created]: tag.createdAt };
}

export function ownerOf(config: Record<string, string | undefined>): OwnershipTag | undefined {
  if (config[keys.marker] !== ownershipMarker || !config[keys.run]) return undefined;
  return { marker: ownershipMarker, runId: config[keys.run] as string, createdAt: config[keys.created] ?? '' };
}

/** Incus status words onto contract power states (INS-01). */
export function mapPower(status: string): PowerState {
  switch (status) {
    case 'Running':
      return 'running';
    case 'Stopped':
      return 'stopped';
    case 'Frozen':
      return 'paused';
    case 'Error':
      return 'crashed';
    default:
      // Starting, Stopping, Freezing, Thawing, Aborting, Restarting, Pending...
      return 'transitioning';
  }
}

const unitBytes: Record<string, number> = {
  B: 1,
  kB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  TiB: 1024 ** 4,
};

/** Incus sizes ("320MiB", "1GB", "33554432"). */
export function parseSize(s: string | undefined): number {
  if (!s) return 0;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(s);
  if (!m) return 0;
  const mult = m[2] ? unitBytes[m[2]] : 1;
  return mult === undefined ? 0 : Math.round(Number(m[1]) * mult);
}

export const diskPath = (serial: string) => `/vmc/disk/${serial}`;

/** Volume ids are <pool>/<volume name>, as on libvirt. */
export const volumeId = (pool: string, name: string) => `${pool}/${name}`;

export function diskDevice(
  type: IncusInstance['type'],
  pool: string,
  volume: string,
  serial: string,
  bootPriority?: number,
): IncusDevice {
  // Containers mount filesystem volumes at a path named by serial. VMs get block volumes on virtio-blk
  // (io.bus), so the guest sees /dev/vdX like on libvirt; Incus gives no disk-serial key, the guest-visible
  // id derives from the device name (unverified here: VMs cannot start on this lab).
  return type === 'container'
    ? { type: 'disk', pool, source: volume, path: diskPath(serial) }
    : {
        type: 'disk',
        pool,
        source: volume,
        'io.bus': 'virtio-blk',
        ...(bootPriority ? { 'boot.priority': String(bootPriority) } : {}),
      };
}

export function nicDevice(
  type: IncusInstance['type'],
  index: number,
  nic: { network: string; external?: boolean; mac: string; vlan?: number },
): IncusDevice {
  const base: IncusDevice = nic.external
    ? { type: 'nic', nictype: 'bridged', parent: nic.network, hwaddr: nic.mac }
    : { type: 'nic', network: nic.network, hwaddr: nic.mac };
  if (nic.vlan !== undefined) base.vlan = String(nic.vlan);
  // Containers name the interface explicitly so its order in the guest follows the device order.
  if (type === 'container') base.name = `eth${index}`;
  return base;
}

/** Device names eth0.. for NICs, vdb.. for data disks (the contract's stable ids), root for the boot disk. */
export const nicName = (index: number) => `eth${index}`;

export interface ParsedInstance {
  state: VmState;
  uuid: string;
  /** Custom volumes attached, by device name. */
  volumes: Record<string, { pool: string; volume: string }>;
}

/** An instance (GET /1.0/instances/<name>, with or without recursion) into contract state. `sizes` maps volume ids to bytes. */
export function parseInstance(inst: IncusInstance, sizes: Record<string, number> = {}): ParsedInstance {
  const config = inst.config ?? {};
  const metadata: Record<string, string> = {};
  const placement: Placement = {};
  for (const [k, v] of Object.entries(config)) {
    if (k.startsWith(keys.metaPrefix)) metadata[k.slice(keys.metaPrefix.length)] = v;
    if (k.startsWith(keys.placementPrefix))
      (placement as Record<string, string>)[k.slice(keys.placementPrefix.length)] = v;
  }
  if (inst.location && inst.location !== 'none' && !placement.host) placement.host = inst.location;
  const devices = inst.devices ?? {};
  const expanded = inst.expanded_devices ?? devices;
  const disks: AttachedDisk[] = [];
  const volumes: ParsedInstance['volumes'] = {};
  for (const [name, dev] of Object.entries(expanded)) {
    if (dev.type !== 'disk' || !dev.pool) continue;
    if (dev.path === '/') {
      disks.push({
        id: name,
        target: name,
        serial: 'boot',
        sizeBytes: parseSize(dev.size),
        volumeId: volumeId(dev.pool, `${inst.type === 'container' ? 'container' : 'virtual-machine'}/${inst.name}`),
        format: inst.type === 'container' ? 'dir' : 'raw',
        role: 'boot',
      });
      continue;
    }
    if (!dev.source) continue;
    const id = volumeId(dev.pool, dev.source);
    volumes[name] = { pool: dev.pool, volume: dev.source };
    const serial = dev.path?.startsWith('/vmc/disk/') ? dev.path.slice('/vmc/disk/'.length) : name;
    disks.push({
      id: name,
      target: name,
      serial,
      sizeBytes: sizes[id] ?? 0,
      volumeId: id,
      format: inst.type === 'container' ? 'filesystem' : 'block',
      role: serial === 'cidata' ? 'seed' : 'data',
    });
  }
  disks.sort((a, b) => (a.role === 'boot' ? -1 : b.role === 'boot' ? 1 : a.target.localeCompare(b.target)));
  const nics: AttachedNic[] = Object.entries(expanded)
    .filter(([, dev]) => dev.type === 'nic')
    .map(([name, dev]) => ({ name, dev, index: Number(/(\d+)$/.exec(name)?.[1] ?? 0) }))
    .sort((a, b) => a.index - b.index || a.name.localeCompare(b.name))
    .map(({ name, dev }, index) => ({
      index,
      mac: (dev.hwaddr ?? config[`volatile.${name}.hwaddr`] ?? '').toLowerCase(),
      network: dev.network ?? dev.parent ?? '',
      external: !dev.network && dev.nictype === 'bridged',
      model: inst.type === 'container' ? 'veth' : 'virtio-net',
      ...(dev.vlan ? { vlan: Number(dev.vlan) } : {}),
    }));
  const owner = ownerOf(config);
  const status = inst.state?.status ?? inst.status;
  return {
    uuid: config['volatile.uuid'] ?? '',
    volumes,
    state: {
      ref: { id: config['volatile.uuid'] ?? '', name: inst.name },
      power: mapPower(status),
      rawState: status,
      config: {
        vcpus: Number(config['limits.cpu'] ?? 0),
        memoryMiB: Math.round(parseSize(config['limits.memory']) / 1024 ** 2),
        disks,
        nics,
        metadata,
        ...(owner ? { owner } : {}),
        placement,
      },
      source: `Incus instance (GET /1.0/instances/${inst.name}, type ${inst.type})`,
    },
  };
}

interface IncusEvent {
  type: string;
  timestamp?: string;
  project?: string;
  metadata?: {
    action?: string;
    source?: string;
    context?: Record<string, unknown>;
    id?: string;
    description?: string;
    status?: string;
    resources?: Record<string, string[]> | null;
  };
}

const lifecycleKind = (action: string): PlatformEvent['kind'] => {
  if (/^instance-(started|stopped|shutdown|restarted|paused|resumed|created|deleted|renamed)$/.test(action))
    return 'lifecycle';
  if (/device|volume/.test(action)) return 'device';
  if (/updated/.test(action)) return 'config';
  return 'other';
};

/** One message of the events websocket into a contract event (undefined for ones the contract does not carry). */
export function parseEvent(text: string, receivedAt: number): PlatformEvent | undefined {
  let e: IncusEvent;
  try {
    e = JSON.parse(text) as IncusEvent;
  } catch {
    return undefined;
  }
  const m = e.metadata ?? {};
  const instanceOf = (path: string | undefined) => /^\/1\.0\/instances\/([^/?]+)/.exec(path ?? '')?.[1];
  if (e.type === 'lifecycle' && m.action) {
    const vm = instanceOf(m.source);
    return {
      receivedAt,
      ...(e.timestamp ? { platformAt: e.timestamp } : {}),
      ...(vm ? { vm: decodeURIComponent(vm) } : {}),
      kind: lifecycleKind(m.action),
      detail: m.action,
      source: 'push',
      raw: text,
    };
  }
  if (e.type === 'operation' && m.id) {
    const vm = instanceOf(m.resources?.instances?.[0]);
    return {
      receivedAt,
      ...(e.timestamp ? { platformAt: e.timestamp } : {}),
      ...(vm ? { vm: decodeURIComponent(vm) } : {}),
      kind: 'task',
      detail: `${m.description ?? 'operation'} ${m.status ?? ''} (${m.id})`.trim(),
      source: 'push',
      raw: text,
    };
  }
  return undefined;
}

export interface IncusResources {
  cpu?: { total?: number };
  memory?: { total?: number; used?: number };
  storage?: { disks?: { size?: number }[] };
}

export function capacityFrom(r: IncusResources, poolTotal?: number): HostCapacity {
  return {
    cpus: r.cpu?.total ?? 0,
    memoryBytes: r.memory?.total ?? 0,
    ...(poolTotal !== undefined ? { storageBytes: poolTotal } : {}),
  };
}

/** A Prometheus text line value from /1.0/metrics for one instance and label set. */
export function metricValues(
  text: string,
  metric: string,
  instance: string,
): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    const m = /^[^{]+\{([^}]*)\}\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const kv of (m[1] as string).matchAll(/(\w+)="([^"]*)"/g)) labels[kv[1] as string] = kv[2] as string;
    if (labels.name !== instance) continue;
    out.push({ labels, value: Number(m[2]) });
  }
  return out;
}
