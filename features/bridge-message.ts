/**
 * Pure mapping from what a platform reports (events, receipts of mutating calls) to the JSON messages
 * the NATS bridge publishes on `<prefix>.<platform>.<kind>` (INT-03). No I/O here: unit-tested.
 */
import type { Platform, PlatformEvent, Receipt, TaskHandle, VmRef } from '../adapters/contract/index.js';
import { redact } from '../evidence/redact.js';

export const bridgeMessageVersion = 1;

export interface BridgeMessage {
  v: typeof bridgeMessageVersion;
  /** Which bridge published it: several may publish on the same subjects, each with its own `seq`. */
  bridge: string;
  /** Per-bridge sequence: strictly increasing in publish order, so a consumer can prove ordering and gaps. */
  seq: number;
  platform: Platform;
  kind: PlatformEvent['kind'];
  subject: string;
  /** The VM as the platform names it in the event, or the receipt's VM. */
  vm: string | null;
  /** The platform's durable VM id when the source carries one (receipts do; libvirt events name only). */
  vmId: string | null;
  detail: string;
  source: PlatformEvent['source'] | 'receipt';
  /** The platform's own task/operation id; null when the platform gives none (handleKind then says 'none'). */
  taskId: string | null;
  handleKind: TaskHandle['kind'] | null;
  /** The platform's own timestamp of the change (ISO 8601), when it has one. */
  platformAt: string | null;
  /** When the harness received the event or the call returned (ISO 8601). */
  receivedAt: string;
  publishedAt: string;
  /** Receipts: the operation and its accepted/done durations as the harness measured them. */
  op?: string;
  acceptedMs?: number;
  doneMs?: number;
  note?: string;
  raw?: string;
}

/** One subject token: NATS separates tokens with '.', and '*', '>' and whitespace are wildcards or illegal. */
export function subjectToken(s: string): string {
  const t = s.replace(/[.*>\s]+/g, '_');
  if (t.length === 0) throw new Error('empty NATS subject token');
  return t;
}

export const subjectFor = (prefix: string, platform: Platform, kind: PlatformEvent['kind']) =>
  [prefix, platform, kind].map(subjectToken).join('.');

/**
 * Parses a platform timestamp into epoch ms: ISO 8601, or libvirt's `2026-11-24 18:47:00.123+0000`.
 * Undefined when it cannot be read, never a guess.
 */
export function platformTimeMs(at: string | undefined): number | undefined {
  if (!at) return undefined;
  const iso = at
    .trim()
    .replace(' ', 'T')
    .replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms;
}

export interface MessageContext {
  bridge: string;
  prefix: string;
  platform: Platform;
  seq: number;
  now: number;
}

const isoOrNull = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

export function eventMessage(ev: PlatformEvent, ctx: MessageContext): BridgeMessage {
  return redact({
    v: bridgeMessageVersion,
    bridge: ctx.bridge,
    seq: ctx.seq,
    platform: ctx.platform,
    kind: ev.kind,
    subject: subjectFor(ctx.prefix, ctx.platform, ev.kind),
    vm: ev.vm ?? null,
    vmId: null,
    detail: ev.detail,
    source: ev.source,
    taskId: ev.taskId ?? null,
    handleKind: ev.taskId ? 'task' : null,
    platformAt: isoOrNull(platformTimeMs(ev.platformAt)),
    receivedAt: new Date(ev.receivedAt).toISOString(),
    publishedAt: new Date(ctx.now).toISOString(),
    raw: ev.raw,
  });
}

/** A task update from a mutating call's receipt: always on the `task` subject, with the platform's handle. */
export function receiptMessage(
  op: string,
  vm: VmRef | undefined,
  receipt: Receipt<unknown>,
  ctx: MessageContext & { receivedAt: number },
): BridgeMessage {
  const h = receipt.handle;
  return redact({
    v: bridgeMessageVersion,
    bridge: ctx.bridge,
    seq: ctx.seq,
    platform: ctx.platform,
    kind: 'task',
    subject: subjectFor(ctx.prefix, ctx.platform, 'task'),
    vm: vm?.name ?? null,
    vmId: vm?.id ?? null,
    detail: `${op} done`,
    source: 'receipt',
    taskId: h.id,
    handleKind: h.kind,
    platformAt: null,
    receivedAt: new Date(ctx.receivedAt).toISOString(),
    publishedAt: new Date(ctx.now).toISOString(),
    op,
    acceptedMs: Math.round(receipt.acceptedMs),
    doneMs: Math.round(receipt.doneMs),
    ...(h.note ? { note: h.note } : {}),
  });
}

/** Running totals for the summary the bridge prints when it stops (no message is kept). */
export class BridgeTally {
  readonly perSubject = new Map<string, number>();
  first?: string;
  last?: string;

  add(m: Pick<BridgeMessage, 'subject' | 'publishedAt'>): void {
    this.perSubject.set(m.subject, (this.perSubject.get(m.subject) ?? 0) + 1);
    this.first ??= m.publishedAt;
    this.last = m.publishedAt;
  }

  get total(): number {
    let n = 0;
    for (const c of this.perSubject.values()) n += c;
    return n;
  }

  summary(): string {
    if (this.total === 0) return 'no messages published';
    const parts = [...this.perSubject.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([s, n]) => `${s}: ${n}`);
    return `${this.total} messages (${parts.join(', ')}) from ${this.first} to ${this.last}`;
  }
}
