/**
 * Parser for what the vmconform guest (host/guest/init) prints on its serial console.
 * Pure: no I/O. Feed it the whole console log text (re-parse as the log grows).
 *
 * Protocol (one line each, all start with `VMC `; fields never contain ' ', ',' or ';'):
 *   VMC USERDATA status=ran|skipped rc=<int> sha256=<hex64>     before READY, if the seed has user-data
 *   VMC METADATA instance_id=<id>                               before READY, if the seed has meta-data
 *   VMC READY boot_id=<uuid> kernel=<uname -r> [fw=uefi|bios cpus=<n> mem_kib=<n> memmap=<hex>-<hex>:<type>,...]
 *                                                               (optional fields: older guests omit them)
 *   VMC STATE seq=<n> disks=<name:serial:bytes:hdr>,... nics=<name:mac>,...   after READY and on change
 *   VMC SHUTDOWN source=acpi
 * `hdr` is the last disk field and may itself contain ':' (e.g. `VMCIMG:base-v1`).
 *
 * Tolerated: CRLF, firmware escape sequences or other junk before `VMC` on the same line, kernel
 * messages on their own lines, a kernel message spliced into the middle of a VMC line (the
 * continuation on the next line is re-joined), unknown extra `key=value` fields, and a partially
 * written last line (not parsed; kept in `partial`).
 */

export interface GuestDisk {
  /** Kernel name, e.g. `vda`. */
  name: string;
  /** virtio serial ('' when none). */
  serial: string;
  bytes: number;
  /** First line of the first 64 bytes, only [A-Za-z0-9._:=-] kept ('' when none). */
  hdr: string;
}

export interface GuestNic {
  name: string;
  /** Lower-case, colon separated. */
  mac: string;
}

/** `line` is the 1-based line number in the parsed text where the event was printed. */
export interface ReadyEvent {
  kind: 'ready';
  bootId: string;
  kernel: string;
  /** How the guest was started: `uefi` when the kernel sees EFI runtime (/sys/firmware/efi). */
  firmware?: 'uefi' | 'bios';
  /** CPUs and memory (KiB, MemTotal) the guest itself sees. */
  cpus?: number;
  memKiB?: number;
  /** The firmware's memory map as the guest kernel received it (a VM guest; see memory.ts). */
  memmap?: MemmapEntry[];
  line: number;
}

/** One firmware memory map range, `end` inclusive; type ram, res, acpi, nvs or other. */
export interface MemmapEntry {
  start: number;
  end: number;
  type: string;
}

export interface StateEvent {
  kind: 'state';
  seq: number;
  disks: GuestDisk[];
  nics: GuestNic[];
  line: number;
}

export interface UserdataEvent {
  kind: 'userdata';
  /** `ran` (script executed) or `skipped` (user-data is not a `#!` script). */
  status: string;
  rc: number;
  sha256: string;
  line: number;
}

export interface MetadataEvent {
  kind: 'metadata';
  instanceId: string;
  line: number;
}

export interface ShutdownEvent {
  kind: 'shutdown';
  source: string;
  line: number;
}

export type GuestEvent = ReadyEvent | StateEvent | UserdataEvent | MetadataEvent | ShutdownEvent;

export interface MalformedLine {
  line: number;
  text: string;
  reason: string;
}

export interface GuestReport {
  /** All protocol events, in console order. */
  events: GuestEvent[];
  /** Lines that carry a `VMC <VERB>` marker but could not be parsed. */
  malformed: MalformedLine[];
  /** The unterminated last line, if any (ignored until its newline arrives). */
  partial: string | undefined;
}

/** One guest boot: starts at a READY; carries the USERDATA/METADATA printed just before it. */
export interface Boot {
  ready: ReadyEvent;
  userdata: UserdataEvent | undefined;
  metadata: MetadataEvent | undefined;
  states: StateEvent[];
  shutdown: ShutdownEvent | undefined;
}

const VERBS = ['READY', 'STATE', 'USERDATA', 'METADATA', 'SHUTDOWN'] as const;
type Verb = (typeof VERBS)[number];
const MARKER = /VMC (READY|STATE|USERDATA|METADATA|SHUTDOWN)(?= |$)/;
/** A printk line prefix such as `[    5.671193] `. */
const KERNEL_TS = /\[\s*\d+\.\d+\]/;
const MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2})+$/;
const DISK_NAME = /^[A-Za-z0-9_.-]+$/;
const NIC_NAME = /^[^\s:,;]+$/;
const DIGITS = /^\d+$/;
const INT = /^-?\d+$/;
const SHA256 = /^[0-9a-f]{64}$/;
const BOOT_ID = /^[0-9a-fA-F-]+$/;
const FIELD_VALUE = /^[^\s,;]*$/;

class ParseError extends Error {}

function splitFields(rest: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const tok of rest.split(' ')) {
    if (tok === '') continue;
    const eq = tok.indexOf('=');
    if (eq <= 0) throw new ParseError(`token without key=value: ${JSON.stringify(tok)}`);
    const key = tok.slice(0, eq);
    if (fields.has(key)) throw new ParseError(`duplicate field ${key}`);
    fields.set(key, tok.slice(eq + 1));
  }
  return fields;
}

function need(fields: Map<string, string>, key: string, re?: RegExp): string {
  const v = fields.get(key);
  if (v === undefined) throw new ParseError(`missing field ${key}`);
  if (re && !re.test(v)) throw new ParseError(`bad ${key}: ${JSON.stringify(v)}`);
  return v;
}

function parseDisks(v: string): GuestDisk[] {
  if (v === '') return [];
  return v.split(',').map((entry) => {
    const parts = entry.split(':');
    if (parts.length < 4) throw new ParseError(`bad disk entry ${JSON.stringify(entry)}`);
    const [name = '', serial = '', bytes = ''] = parts;
    const hdr = parts.slice(3).join(':');
    if (!DISK_NAME.test(name)) throw new ParseError(`bad disk name ${JSON.stringify(name)}`);
    if (!DIGITS.test(bytes)) throw new ParseError(`bad disk size ${JSON.stringify(bytes)}`);
    if (!/^[A-Za-z0-9._=-]*$/.test(serial)) throw new ParseError(`bad disk serial ${JSON.stringify(serial)}`);
    if (!/^[A-Za-z0-9._:=-]*$/.test(hdr)) throw new ParseError(`bad disk hdr ${JSON.stringify(hdr)}`);
    return { name, serial, bytes: Number(bytes), hdr };
  });
}

function parseNics(v: string): GuestNic[] {
  if (v === '') return [];
  return v.split(',').map((entry) => {
    const colon = entry.indexOf(':');
    const name = colon < 0 ? entry : entry.slice(0, colon);
    const mac = colon < 0 ? '' : entry.slice(colon + 1).toLowerCase();
    if (!NIC_NAME.test(name)) throw new ParseError(`bad nic name ${JSON.stringify(name)}`);
    if (!MAC.test(mac)) throw new ParseError(`bad nic mac ${JSON.stringify(mac)}`);
    return { name, mac };
  });
}

function parseMemmap(v: string): MemmapEntry[] {
  if (v === '') return [];
  return v.split(',').map((entry) => {
    const m = /^0x([0-9a-f]+)-0x([0-9a-f]+):([a-z]+)$/i.exec(entry);
    if (!m) throw new ParseError(`bad memmap entry ${JSON.stringify(entry)}`);
    return {
      start: Number.parseInt(m[1] as string, 16),
      end: Number.parseInt(m[2] as string, 16),
      type: m[3] as string,
    };
  });
}

function parseEvent(verb: Verb, rest: string, line: number): GuestEvent {
  const f = splitFields(rest);
  switch (verb) {
    case 'READY': {
      const fw = f.get('fw');
      if (fw !== undefined && fw !== 'uefi' && fw !== 'bios') throw new ParseError(`bad fw: ${JSON.stringify(fw)}`);
      const num = (k: string) => (f.has(k) ? Number(need(f, k, DIGITS)) : undefined);
      const cpus = num('cpus');
      const memKiB = num('mem_kib');
      const memmap = f.has('memmap') ? parseMemmap(need(f, 'memmap')) : undefined;
      return {
        kind: 'ready',
        bootId: need(f, 'boot_id', BOOT_ID),
        kernel: need(f, 'kernel', /^\S+$/),
        ...(fw ? { firmware: fw } : {}),
        ...(cpus === undefined ? {} : { cpus }),
        ...(memKiB === undefined ? {} : { memKiB }),
        ...(memmap === undefined ? {} : { memmap }),
        line,
      };
    }
    case 'STATE':
      return {
        kind: 'state',
        seq: Number(need(f, 'seq', DIGITS)),
        disks: parseDisks(need(f, 'disks')),
        nics: parseNics(need(f, 'nics')),
        line,
      };
    case 'USERDATA':
      return {
        kind: 'userdata',
        status: need(f, 'status', /^[a-z]+$/),
        rc: Number(need(f, 'rc', INT)),
        sha256: need(f, 'sha256', SHA256),
        line,
      };
    case 'METADATA':
      return { kind: 'metadata', instanceId: need(f, 'instance_id', FIELD_VALUE), line };
    case 'SHUTDOWN':
      return { kind: 'shutdown', source: need(f, 'source', /^[a-z0-9_-]+$/), line };
  }
}

function tryParse(text: string, line: number): { event: GuestEvent } | { error: string } | undefined {
  const m = MARKER.exec(text);
  if (!m) return undefined;
  const verb = m[1] as Verb;
  const rest = text.slice(m.index + m[0].length);
  try {
    return { event: parseEvent(verb, rest, line) };
  } catch (e) {
    if (e instanceof ParseError) return { error: e.message };
    throw e;
  }
}

/** Parse a guest console log. Never throws on bad input; unparseable VMC lines land in `malformed`. */
export function parseConsole(text: string): GuestReport {
  const raw = text.split('\n');
  const last = raw.pop() ?? '';
  const partial = last === '' ? undefined : last;
  const lines = raw.map((l) => l.replace(/\r+$/, '').replace(/\r/g, ''));
  const events: GuestEvent[] = [];
  const malformed: MalformedLine[] = [];

  for (let i = 0; i < lines.length; i++) {
    const text1 = lines[i] ?? '';
    const first = tryParse(text1, i + 1);
    if (first === undefined) continue;
    if ('event' in first) {
      events.push(first.event);
      continue;
    }
    // A kernel message may have been printed into the middle of our line: `VMC ... [ 5.67] msg`
    // with the rest of our line on the next line. Cut the kernel part and re-join.
    const m = MARKER.exec(text1);
    const afterMarker = m ? text1.slice(m.index) : text1;
    const ts = KERNEL_TS.exec(afterMarker);
    const next = lines[i + 1];
    if (ts && next !== undefined && !MARKER.test(next) && !KERNEL_TS.test(next.slice(0, 20))) {
      const joined = afterMarker.slice(0, ts.index) + next;
      const second = tryParse(joined, i + 1);
      if (second && 'event' in second) {
        events.push(second.event);
        i++;
        continue;
      }
    }
    if (ts) {
      const cut = tryParse(afterMarker.slice(0, ts.index).trimEnd(), i + 1);
      if (cut && 'event' in cut) {
        events.push(cut.event);
        continue;
      }
    }
    malformed.push({ line: i + 1, text: text1, reason: first.error });
  }
  return { events, malformed, partial };
}

/**
 * Group events into boots. Each READY starts a boot. USERDATA/METADATA are printed by the guest
 * before its READY, so those seen after the previous boot's last event attach to the next READY;
 * if a STATE or SHUTDOWN of the current boot follows them instead (a guest that prints them after
 * READY), they attach to the current boot. Events before the first READY that are not followed by
 * one, and USERDATA/METADATA at the very end still waiting for their READY, are not in any boot.
 */
export function boots(report: GuestReport): Boot[] {
  const out: Boot[] = [];
  let current: Boot | undefined;
  let pendingUser: UserdataEvent | undefined;
  let pendingMeta: MetadataEvent | undefined;
  const flushPendingInto = (b: Boot) => {
    if (pendingUser && !b.userdata) b.userdata = pendingUser;
    if (pendingMeta && !b.metadata) b.metadata = pendingMeta;
    pendingUser = undefined;
    pendingMeta = undefined;
  };
  for (const ev of report.events) {
    switch (ev.kind) {
      case 'ready':
        current = { ready: ev, userdata: undefined, metadata: undefined, states: [], shutdown: undefined };
        flushPendingInto(current);
        out.push(current);
        break;
      case 'userdata':
        pendingUser ??= ev;
        break;
      case 'metadata':
        pendingMeta ??= ev;
        break;
      case 'state':
        if (!current) break;
        flushPendingInto(current);
        current.states.push(ev);
        break;
      case 'shutdown':
        if (!current) break;
        flushPendingInto(current);
        current.shutdown ??= ev;
        break;
    }
  }
  return out;
}

/** The last boot, if the guest ever printed READY. */
export function lastBoot(report: GuestReport): Boot | undefined {
  return boots(report).at(-1);
}

/** The newest STATE of the newest boot (undefined if that boot has printed none yet). */
export function lastState(report: GuestReport): StateEvent | undefined {
  return lastBoot(report)?.states.at(-1);
}

/** The disk with this virtio serial in a STATE, if present. */
export function diskBySerial(state: StateEvent, serial: string): GuestDisk | undefined {
  return state.disks.find((d) => d.serial === serial);
}

/** The NIC with this MAC (any case) in a STATE, if present. */
export function nicByMac(state: StateEvent, mac: string): GuestNic | undefined {
  const want = mac.toLowerCase();
  return state.nics.find((n) => n.mac === want);
}

export const PROTOCOL_VERBS: readonly string[] = VERBS;
