/**
 * The NATS bridge (INT-03, OBS-02's delivery side): a platform's events and the task handles of the
 * calls made through it become JSON messages on `<prefix>.<platform>.<kind>`, published in the order the
 * harness saw them. A JetStream stream keeps them for consumers that were not connected.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { connect, type JetStreamManager, type NatsConnection, RetentionPolicy, StorageType } from 'nats';
import type { Driver, Platform, Receipt, VmRef } from '../adapters/contract/index.js';
import { PlatformError } from '../evidence/errors.js';
import { redactText } from '../evidence/redact.js';
import { type BridgeMessage, BridgeTally, eventMessage, receiptMessage } from './bridge-message.js';

export interface BridgeOptions {
  url: string;
  prefix: string;
  token?: string;
  /** Client name shown in the server's monitoring pages. */
  name?: string;
}

const encoder = new TextEncoder();

/** Mutating calls whose receipts are published as task updates. */
const receiptOps = new Set([
  'create',
  'start',
  'stop',
  'reboot',
  'delete',
  'rename',
  'attachDisk',
  'detachDisk',
  'resizeDisk',
  'deleteVolume',
  'attachNic',
  'detachNic',
  'importImage',
  'deleteImage',
  'backup',
  'restore',
  'deleteBackup',
  'exportVolume',
  'importVolume',
  'reconfigure',
]);

const isVmRef = (x: unknown): x is VmRef =>
  typeof x === 'object' && x !== null && typeof (x as VmRef).id === 'string' && typeof (x as VmRef).name === 'string';

export class NatsBridge {
  readonly tally = new BridgeTally();
  /** Distinguishes this bridge's messages (and its seq) from other bridges on the same subjects. */
  readonly id = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private seq = 0;

  private constructor(
    readonly nc: NatsConnection,
    private readonly opts: BridgeOptions,
  ) {}

  static async connect(opts: BridgeOptions): Promise<NatsBridge> {
    const nc = await connect({
      servers: opts.url,
      name: opts.name ?? 'vmconform-bridge',
      timeout: 10_000,
      ...(opts.token ? { token: opts.token } : {}),
    }).catch((e: unknown) => {
      const cause = redactText(e instanceof Error ? e.message : String(e));
      throw new PlatformError(`NATS: cannot connect to ${opts.url}: ${cause}`, 'nats-connect', cause);
    });
    return new NatsBridge(nc, opts);
  }

  get streamName(): string {
    return `${this.opts.prefix.toUpperCase().replace(/-/g, '_')}_EVENTS`;
  }

  /** A bounded stream over `<prefix>.>` so late consumers can replay; absent JetStream, core NATS still works. */
  async ensureStream(): Promise<string | undefined> {
    let jsm: JetStreamManager;
    try {
      jsm = await this.nc.jetstreamManager();
    } catch {
      return undefined;
    }
    const subjects = [`${this.opts.prefix}.>`];
    const cfg = {
      name: this.streamName,
      subjects,
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      max_bytes: 64 * 1024 * 1024,
      max_age: 24 * 3600 * 1_000_000_000,
    };
    await jsm.streams.info(this.streamName).then(
      () => jsm.streams.update(this.streamName, { subjects, max_bytes: cfg.max_bytes, max_age: cfg.max_age }),
      () => jsm.streams.add(cfg),
    );
    return this.streamName;
  }

  private publish(build: (seq: number, now: number) => BridgeMessage): BridgeMessage {
    const msg = build(++this.seq, Date.now());
    this.nc.publish(msg.subject, encoder.encode(JSON.stringify(msg)));
    this.tally.add(msg);
    return msg;
  }

  /** Publishes every event the platform reports until `signal` aborts; returns how many it published. */
  async pump(driver: Driver, signal: AbortSignal, onMessage?: (m: BridgeMessage) => void): Promise<number> {
    let n = 0;
    const ctx = { bridge: this.id, prefix: this.opts.prefix, platform: driver.platform };
    try {
      for await (const ev of driver.events(signal)) {
        const m = this.publish((seq, now) => eventMessage(ev, { ...ctx, seq, now }));
        onMessage?.(m);
        n++;
      }
    } catch (e) {
      if (!signal.aborted) throw e;
    }
    return n;
  }

  /** The same driver, publishing each mutating call's receipt (the platform's task handle) as a task update. */
  wrap(driver: Driver): Driver {
    const publishReceipt = (op: string, vm: VmRef | undefined, r: Receipt<unknown>) =>
      this.publish((seq, now) =>
        receiptMessage(op, vm, r, {
          bridge: this.id,
          prefix: this.opts.prefix,
          platform: driver.platform,
          seq,
          now,
          receivedAt: now,
        }),
      );
    return new Proxy(driver, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof prop !== 'string' || !receiptOps.has(prop) || typeof value !== 'function') {
          return typeof value === 'function' ? value.bind(target) : value;
        }
        return async (...args: unknown[]) => {
          const r = (await value.apply(target, args)) as Receipt<unknown>;
          publishReceipt(prop, isVmRef(r.result) ? r.result : isVmRef(args[0]) ? args[0] : undefined, r);
          return r;
        };
      },
    });
  }

  async close(): Promise<void> {
    await this.nc.drain().catch(() => undefined);
  }
}

/** `vmconform bridge`: every platform's events to NATS until the signal aborts; prints one line per message. */
export async function runBridge(opts: {
  bridge: BridgeOptions;
  drivers: Driver[];
  signal: AbortSignal;
  say: (m: string) => void;
}): Promise<{ summary: string; perPlatform: Record<Platform, number> }> {
  const bridge = await NatsBridge.connect(opts.bridge);
  const stream = await bridge.ensureStream();
  opts.say(
    `bridging ${opts.drivers.map((d) => d.platform).join(', ')} to ${opts.bridge.url} as ${opts.bridge.prefix}.<platform>.<kind>${stream ? ` (JetStream stream ${stream})` : ' (no JetStream: core NATS only)'}; Ctrl-C to stop`,
  );
  const perPlatform = {} as Record<Platform, number>;
  try {
    await Promise.all(
      opts.drivers.map(async (d) => {
        perPlatform[d.platform] = await bridge.pump(d, opts.signal, (m) =>
          opts.say(`${m.subject} #${m.seq} ${m.vm ?? '-'} ${m.detail}`),
        );
      }),
    );
  } finally {
    await bridge.close();
  }
  return { summary: bridge.tally.summary(), perPlatform };
}
