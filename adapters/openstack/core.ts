/**
 * What every OpenStack concern shares: the Keystone session and its per-service calls, the ownership
 * tag, receipts' handles, the owned-server lookup and waiting on server and volume status.
 */
import { type WaitOperation, type WaitPolicy, waitFor } from '../../host/wait.js';
import {
  AdapterBase,
  type AdapterContext,
  type Capabilities,
  NotFound,
  type OwnershipTag,
  ownershipMarker,
  PlatformError,
  type Receipt,
  type TaskHandle,
  type VmRef,
} from '../contract/index.js';
import type { HttpResponse, RequestOptions } from '../http/client.js';
import { Cinder } from './cinder.js';
import type { OpenStackSession, ServiceType } from './client.js';
import { type ConsoleSeen, emptyConsole, seeConsole } from './console.js';
import { type CinderVolume, mapPower, type NovaServer, ownerOf } from './mapping.js';
import { Neutron } from './neutron.js';
import { faultError } from './responses.js';

export interface OpenStackConfig {
  endpoint: string;
  /** The base image (Glance id or name). */
  image: string;
  bootDiskBytes: number;
  /** The root disk: a Cinder volume made from the image (default), or the image on the compute host's local disk. */
  boot?: 'volume' | 'image';
  /** A bridge the platform did not create and the provider network that stands for it (NIC-05). */
  externalBridge?: string;
  externalNetwork?: string;
  /** Evidence label from the lab; the simulator's own header forces 'simulated' regardless. */
  evidence: Capabilities['evidence'];
  prereqMissing: Capabilities['prereqMissing'];
  /** How the cloud's guests execute, where known (the lab records it); a remote cloud's is assumed TCG-or-better unknown. */
  accel?: 'kvm' | 'tcg';
  waits?: Partial<Record<WaitOperation, WaitPolicy>>;
}

export class OpenStackBase extends AdapterBase {
  /** Cinder volume primitives and Neutron lookups/ports, shared by the concerns that make VMs. */
  readonly cinder: Cinder;
  readonly neutron: Neutron;

  constructor(
    readonly cfg: OpenStackConfig,
    readonly session: OpenStackSession,
    ctx: AdapterContext,
  ) {
    super('openstack', ctx, cfg.waits);
    this.cinder = new Cinder(this);
    this.neutron = new Neutron(this);
  }

  call<T = unknown>(svc: ServiceType, method: string, path: string, ro?: RequestOptions): Promise<HttpResponse<T>> {
    return this.session.call<T>(svc, method, path, ro);
  }

  nova<T = unknown>(method: string, path: string, ro?: RequestOptions) {
    return this.call<T>('compute', method, path, ro);
  }

  /** Every page of a list (`key` is the list's field: servers, volumes, images, networks…). */
  list<T>(svc: ServiceType, path: string, key: string, query?: RequestOptions['query']): Promise<T[]> {
    return this.session.list<T>(svc, path, key, query);
  }

  tag(): OwnershipTag {
    return { marker: ownershipMarker, runId: this.ctx.runId, createdAt: new Date().toISOString() };
  }

  handle(serverId: string, res: HttpResponse): TaskHandle {
    return res.requestId
      ? {
          kind: 'request',
          id: `${serverId}/${res.requestId}`,
          note: 'server uuid / x-openstack-request-id, queryable as os-instance-actions',
        }
      : { kind: 'none', id: null, note: 'the response carried no x-openstack-request-id' };
  }

  /** A call whose platform keeps no queryable record: timed, and the handle says why there is none. */
  async untracked(note: string, fn: () => Promise<void>): Promise<Receipt> {
    const t0 = performance.now();
    await fn();
    const ms = performance.now() - t0;
    return { result: undefined, handle: { kind: 'none', id: null, note }, acceptedMs: ms, doneMs: ms };
  }

  // ---- Nova servers ------------------------------------------------------------------------------
  async server(id: string): Promise<NovaServer> {
    return (await this.nova<{ server: NovaServer }>('GET', `/servers/${id}`)).body.server;
  }

  async serversNamed(name: string): Promise<NovaServer[]> {
    const re = `^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;
    return (await this.list<NovaServer>('compute', '/servers/detail', 'servers', { name: re })).filter(
      (s) => s.name === name,
    );
  }

  /** The server behind `vm`, refused (NotOwned) unless it carries the ownership metadata. */
  async ownedServer(vm: VmRef): Promise<NovaServer> {
    const s = await this.server(vm.id);
    this.ensureOwned(ownerOf(s.metadata), `server '${s.name}' (${s.id})`);
    return s;
  }

  async awaitServer(
    id: string,
    name: string,
    pred: (s: NovaServer) => boolean,
    op: WaitOperation,
    opts: { failOnError?: boolean; check?: (s: NovaServer) => Promise<void> } = {},
  ): Promise<NovaServer> {
    let last = '';
    return (
      await waitFor(
        `${name} (${op})`,
        this.policy(op),
        async () => {
          const s = await this.server(id);
          last = mapPower(s).raw;
          if (opts.failOnError !== false && s.status === 'ERROR') throw faultError(name, s.fault);
          if (!pred(s)) await opts.check?.(s);
          return pred(s) ? s : undefined;
        },
        { describeLast: () => last },
      )
    ).value;
  }

  /** The console log (its last 100 KiB: Nova cuts it there); '' while the guest has none (stopped). */
  /** Per server, the console segments seen so far (Nova restarts the log at every start and reboot). */
  private readonly consoles = new Map<string, Promise<ConsoleSeen>>();

  /** Reads the console and adds it to what was seen of this server; reads of one server are chained. */
  observeConsole(id: string): Promise<ConsoleSeen> {
    const before = this.consoles.get(id) ?? Promise.resolve(emptyConsole());
    const next = before.then(async (seen) => seeConsole(seen, await this.consoleText(id)));
    // A failed read reaches its caller and changes nothing seen: the next read starts from before it.
    this.consoles.set(
      id,
      next.catch(() => before),
    );
    return next;
  }

  consoleText = async (id: string): Promise<string> => {
    try {
      return (
        (
          await this.nova<{ output: string }>('POST', `/servers/${id}/action`, {
            json: { 'os-getConsoleOutput': { length: null } },
            idempotent: true,
          })
        ).body.output ?? ''
      );
    } catch (e) {
      // Nova answers 404 "Guest does not have a console available." for a SHUTOFF server.
      if (e instanceof NotFound && /does not have a console/.test(e.message)) return '';
      throw e;
    }
  };

  // ---- Cinder volume status ------------------------------------------------------------------------
  async cinderVolume(id: string): Promise<CinderVolume> {
    return (await this.call<{ volume: CinderVolume }>('volumev3', 'GET', `/volumes/${id}`)).body.volume;
  }

  async awaitVolume(id: string, want: string[], op: WaitOperation): Promise<CinderVolume> {
    let last = '';
    return (
      await waitFor(
        `volume ${id} to be ${want.join('/')}`,
        this.policy(op),
        async () => {
          const v = await this.cinderVolume(id);
          last = v.status;
          if (v.status.startsWith('error'))
            throw new PlatformError(`openstack: volume ${id} went to ${v.status}`, `cinder-${v.status}`, v.status);
          return want.includes(v.status) ? v : undefined;
        },
        { describeLast: () => last },
      )
    ).value;
  }
}
