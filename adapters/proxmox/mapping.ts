/**
 * Pure parsing of Proxmox VE API objects into contract types, and the encodings the adapter writes
 * (net/disk property strings, ownership tags, the metadata block in the description). No I/O.
 */

import { type GuestReport, parseConsole } from '../../host/guest/report.js';
import type {
  AttachedDisk,
  AttachedNic,
  Host,
  OwnershipTag,
  Placement,
  PowerState,
  TaskInfo,
  VmConfig,
} from '../contract/index.js';
import { ownershipMarker } from '../contract/index.js';

export interface Upid {
  node: string;
  pid: number;
  pstart: number;
  starttime: number;
  type: string;
  id: string;
  user: string;
}

/** `UPID:node:pid:pstart:starttime:type:id:user:` (pid, pstart and starttime in hex). */
export function parseUpid(upid: string): Upid {
  const m = /^UPID:([^:]+):([0-9A-F]{8,}):([0-9A-F]{8,}):([0-9A-F]{8,}):([^:]*):([^:]*):([^:]*):$/i.exec(upid);
  if (!m) throw new Error(`not a Proxmox UPID: ${JSON.stringify(upid)}`);
  return {
    node: m[1] as string,
    pid: Number.parseInt(m[2] as string, 16),
    pstart: Number.parseInt(m[3] as string, 16),
    starttime: Number.parseInt(m[4] as string, 16),
    type: m[5] as string,
    id: m[6] as string,
    user: m[7] as string,
  };
}

export const isUpid = (v: unknown): v is string => typeof v === 'string' && v.startsWith('UPID:');

export interface PveVersion {
  major: number;
  minor: number;
  version: string;
  release: string;
}

/** /version: `{ version: '8.4.1', release: '8.4', repoid }` (7.x: `7.4-17`). */
export function parseVersion(data: { version?: string; release?: string }): PveVersion {
  const version = data.version ?? '';
  const m = /^(\d+)\.(\d+)/.exec(version);
  if (!m) throw new Error(`unrecognised Proxmox VE version ${JSON.stringify(version)}`);
  return { major: Number(m[1]), minor: Number(m[2]), version, release: data.release ?? `${m[1]}.${m[2]}` };
}

/** Disk resize runs as a task (and returns its UPID) from PVE 8.0 on; 7.x resizes synchronously and returns null. */
export const resizeReturnsUpid = (v: PveVersion) => v.major >= 8;

/** Task status -> contract TaskInfo. `exitstatus` is 'OK' on success; 'WARNINGS: n' also succeeded. */
export function parseTaskStatus(
  upid: string,
  s: { status: string; exitstatus?: string; starttime?: number },
  endtime?: number,
): TaskInfo {
  const done = s.status === 'stopped';
  const ok = done && (s.exitstatus === 'OK' || /^WARNINGS: \d+$/.test(s.exitstatus ?? ''));
  return {
    handle: { kind: 'task', id: upid },
    status: !done ? 'running' : ok ? 'succeeded' : 'failed',
    ...(s.starttime ? { startedAt: new Date(s.starttime * 1000).toISOString() } : {}),
    ...(done ? { endedAt: new Date((endtime ?? Date.now() / 1000) * 1000).toISOString() } : {}),
    ...(done && !ok ? { error: s.exitstatus ?? 'task stopped without an exit status' } : {}),
  };
}

/** `current=512` or `512`: memory in MiB. */
export const parseMemory = (v: string | undefined) => Number(/(?:current=)?(\d+)/.exec(v ?? '')?.[1] ?? 512);

/** Proxmox sizes: `32M`, `1G`, `1.5G`, bytes without a unit. */
export function parseSize(s: string | undefined): number {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)$/.exec(s ?? '');
  if (!m) return 0;
  return Math.round(Number(m[1]) * 1024 ** ' KMGT'.indexOf(m[2] || ' '));
}

/** `key=value,...` with an optional leading value for the default key. */
export function propertyString(s: string, defaultKey: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [i, part] of s.split(',').entries()) {
    const eq = part.indexOf('=');
    if (eq < 0) {
      if (i === 0) out[defaultKey] = part;
      continue;
    }
    out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

const nicModels = ['virtio', 'e1000', 'e1000e', 'rtl8139', 'vmxnet3'];

/** `virtio=BC:24:11:00:00:01,bridge=vmbr0,tag=10` -> contract NIC (MAC lower-case). */
export function parseNet(key: string, s: string, externalBridges: string[] = []): AttachedNic {
  const p = propertyString(s, 'model');
  const model = nicModels.find((m) => p[m] !== undefined) ?? p.model ?? 'virtio';
  const mac = (p[model] ?? p.macaddr ?? '').toLowerCase();
  const network = p.bridge ?? '';
  return {
    index: Number(key.replace(/^net/, '')),
    mac,
    network,
    external: externalBridges.includes(network),
    model,
    ...(p.tag ? { vlan: Number(p.tag) } : {}),
  };
}

export function buildNet(nic: { mac: string; network: string; vlan?: number }): string {
  return `virtio=${nic.mac.toUpperCase()},bridge=${nic.network}${nic.vlan ? `,tag=${nic.vlan}` : ''}`;
}

const diskSlot = /^(virtio|scsi|sata|ide)(\d+)$/;

/** Guest device name of a virtio slot: virtio disks are enumerated in slot order (vda, vdb, ...). */
export const virtioTarget = (slots: string[], slot: string) =>
  `vd${String.fromCharCode(97 + slots.filter((s) => s.startsWith('virtio')).indexOf(slot))}`;

/** Disks from a VM config, in slot order; cdrom and cloud-init drives are not disks of the VM. */
export function parseDisks(config: Record<string, unknown>): AttachedDisk[] {
  const slots = Object.keys(config)
    .filter((k) => diskSlot.test(k) && !/media=cdrom|:cloudinit/.test(String(config[k])))
    .sort((a, b) => {
      const [, ba = '', na = '0'] = diskSlot.exec(a) ?? [];
      const [, bb = '', nb = '0'] = diskSlot.exec(b) ?? [];
      return ba === bb ? Number(na) - Number(nb) : ba.localeCompare(bb);
    });
  return slots.map((slot) => {
    const p = propertyString(String(config[slot]), 'file');
    const volumeId = p.file ?? '';
    const serial = p.serial ?? '';
    return {
      id: slot,
      target: slot.startsWith('virtio') ? virtioTarget(slots, slot) : slot,
      serial,
      sizeBytes: parseSize(p.size),
      volumeId,
      format: p.format ?? 'raw',
      role: slot === 'virtio0' || serial === 'boot' ? 'boot' : 'data',
    };
  });
}

/** The first free virtioN slot (virtio0 is the boot disk). */
export function nextVirtioSlot(config: Record<string, unknown>): string {
  for (let n = 1; n < 16; n++) if (config[`virtio${n}`] === undefined) return `virtio${n}`;
  throw new Error('all 16 virtio slots are in use');
}

export const nextNetSlot = (config: Record<string, unknown>) => {
  for (let n = 0; n < 32; n++) if (config[`net${n}`] === undefined) return `net${n}`;
  throw new Error('all 32 net slots are in use');
};

/**
 * Tags: lower-case [a-z0-9_][a-z0-9_+.-]*, `;`-separated. Run ids already fit; placement values
 * are escaped so any text survives: characters outside [a-z0-9_-] become `+` and two hex digits
 * (`+` itself included), so upper case stays distinct even on clusters that lower-case tags.
 */
export function encodeTagValue(s: string): string {
  return [...Buffer.from(s, 'utf8')]
    .map((b) => {
      const c = String.fromCharCode(b);
      return /[a-z0-9_-]/.test(c) ? c : `+${b.toString(16).padStart(2, '0')}`;
    })
    .join('');
}

export function decodeTagValue(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '+') {
      bytes.push(Number.parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(s.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
}

export const runTag = (runId: string) => `vmc-run.${encodeTagValue(runId)}`;

export function buildTags(runId: string, placement?: Placement): string {
  const tags = [ownershipMarker, runTag(runId)];
  if (placement?.site) tags.push(`vmc-site.${encodeTagValue(placement.site)}`);
  if (placement?.failureDomain) tags.push(`vmc-fd.${encodeTagValue(placement.failureDomain)}`);
  return tags.join(';');
}

export interface ParsedTags {
  owned: boolean;
  runId?: string;
  placement: Placement;
  other: string[];
}

export function parseTags(tags: string | undefined): ParsedTags {
  const out: ParsedTags = { owned: false, placement: {}, other: [] };
  for (const t of (tags ?? '').split(/[;, ]/).filter(Boolean)) {
    if (t === ownershipMarker) out.owned = true;
    else if (t.startsWith('vmc-run.')) out.runId = decodeTagValue(t.slice(8));
    else if (t.startsWith('vmc-site.')) out.placement.site = decodeTagValue(t.slice(9));
    else if (t.startsWith('vmc-fd.')) out.placement.failureDomain = decodeTagValue(t.slice(7));
    else out.other.push(t);
  }
  return out;
}

/** Metadata and the ownership record live in one line of the description (tags cannot hold arbitrary text). */
const metaPrefix = 'vmconform-metadata: ';

export interface DescriptionBlock {
  owner?: OwnershipTag;
  metadata: Record<string, string>;
}

export function buildDescription(block: DescriptionBlock): string {
  return `${metaPrefix}${JSON.stringify(block)}`;
}

export function parseDescription(desc: string | undefined): DescriptionBlock {
  const line = (desc ?? '').split('\n').find((l) => l.startsWith(metaPrefix));
  if (!line) return { metadata: {} };
  try {
    const v = JSON.parse(line.slice(metaPrefix.length)) as DescriptionBlock;
    return { metadata: v.metadata ?? {}, ...(v.owner ? { owner: v.owner } : {}) };
  } catch {
    return { metadata: {} };
  }
}

/** `uuid=...,manufacturer=...` -> the SMBIOS type 1 UUID, the VM's durable identity. */
export const smbiosUuid = (s: string | undefined) => /(?:^|,)uuid=([0-9a-f-]{36})/i.exec(s ?? '')?.[1]?.toLowerCase();

export function parseConfig(config: Record<string, unknown>, externalBridges: string[] = []): VmConfig {
  const tags = parseTags(config.tags as string | undefined);
  const desc = parseDescription(config.description as string | undefined);
  const nics = Object.keys(config)
    .filter((k) => /^net\d+$/.test(k))
    .sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)))
    .map((k) => parseNet(k, String(config[k]), externalBridges));
  const cores = Number(config.cores ?? 1) * Number(config.sockets ?? 1);
  return {
    vcpus: Number(config.vcpus ?? cores),
    memoryMiB: parseMemory(config.memory as string | undefined),
    disks: parseDisks(config),
    nics,
    metadata: desc.metadata,
    ...(tags.owned && tags.runId
      ? { owner: desc.owner ?? { marker: ownershipMarker, runId: tags.runId, createdAt: '' } }
      : {}),
    placement: tags.placement,
    // `bios` absent is SeaBIOS, Proxmox's default.
    firmware: config.bios === 'ovmf' ? 'uefi' : 'bios',
  };
}

/**
 * Proxmox reports `status` (running|stopped) and, with full status, `qmpstatus` (running, paused,
 * prelaunch, suspended, ...); a config `lock` means an operation is in progress.
 */
export function mapPowerState(status: string, qmpstatus?: string, lock?: string): PowerState {
  if (lock && ['create', 'clone', 'migrate', 'rollback', 'suspending'].includes(lock)) return 'transitioning';
  if (status === 'stopped') return 'stopped';
  if (status === 'running') {
    if (!qmpstatus || qmpstatus === 'running') return 'running';
    if (['paused', 'suspended', 'prelaunch'].includes(qmpstatus)) return 'paused';
    if (qmpstatus === 'internal-error' || qmpstatus === 'guest-panicked') return 'crashed';
    return 'transitioning';
  }
  return 'transitioning';
}

export interface ClusterResource {
  id: string;
  type: string;
  node?: string;
  vmid?: number;
  name?: string;
  status?: string;
  maxcpu?: number;
  maxmem?: number;
  maxdisk?: number;
  mem?: number;
  tags?: string;
  template?: number | boolean;
  pool?: string;
}

/** Nodes as hosts, with what running VMs on each have been given (their maxcpu/maxmem). */
export function hostsFromResources(res: ClusterResource[], placement: Placement = {}): Host[] {
  return res
    .filter((r) => r.type === 'node')
    .map((n) => {
      const vms = res.filter((r) => r.type === 'qemu' && r.node === n.node && r.status === 'running');
      return {
        id: n.id,
        name: n.node ?? n.id,
        ...(placement.site ? { site: placement.site } : {}),
        ...(placement.failureDomain ? { failureDomain: placement.failureDomain } : {}),
        capacity: {
          cpus: n.maxcpu ?? 0,
          memoryBytes: n.maxmem ?? 0,
          ...(n.maxdisk ? { storageBytes: n.maxdisk } : {}),
        },
        allocated: {
          cpus: vms.reduce((a, v) => a + (v.maxcpu ?? 0), 0),
          memoryBytes: vms.reduce((a, v) => a + (v.maxmem ?? 0), 0),
        },
      };
    });
}

/**
 * The guest-side view from the QEMU guest agent: the guest's own VMC log (file-read; it holds the
 * boot history, disks by serial with size and header) and network-get-interfaces, which is the
 * authority for the MACs the guest sees: the newest STATE's NIC list is replaced by it.
 */
export function agentReport(
  log: string,
  interfaces: { name: string; 'hardware-address'?: string }[] | undefined,
): GuestReport {
  const report = parseConsole(log.endsWith('\n') ? log : `${log}\n`);
  if (!interfaces) return report;
  const nics = interfaces
    .filter((i) => i.name !== 'lo' && i['hardware-address'] && i['hardware-address'] !== '00:00:00:00:00:00')
    .map((i) => ({ name: i.name, mac: (i['hardware-address'] ?? '').toLowerCase() }));
  const last = [...report.events].reverse().find((e) => e.kind === 'state');
  if (last && last.kind === 'state') last.nics = nics;
  return report;
}
