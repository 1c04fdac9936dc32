/**
 * The stateful simulated OpenStack: Keystone v3, Nova v2.1 (microversions up to 2.93, Zed), Glance
 * v2, Neutron v2.0, Cinder v3 (up to 3.70) and Placement (up to 1.39), on one port with one path
 * prefix per service, as the published API references describe them. State transitions take
 * simulated time (BUILD -> ACTIVE, powering-off -> SHUTOFF) so clients must poll, as with a real cloud.
 */

import { execFile } from 'node:child_process';
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, open, rm, truncate, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { novaDiskSerial, readyLine, runUserData, stateLine } from '../../../host/guest/simulated.js';
import { type Ctx, errorReply, HttpError, type Reply, readBody, type Service, send } from './http.js';
import {
  type Action,
  type Cloud,
  freshCloud,
  GiB,
  loadCloud,
  now,
  reqId,
  type Server,
  saveCloud,
  type Volume,
} from './state.js';

export interface SimOptions {
  port: number;
  stateDir: string;
  /** The admin password (Keystone password auth). */
  password: string;
  /** Token lifetime; short values exercise client token renewal. */
  tokenTtlS: number;
  /** Simulated duration of a state transition (boot, stop, attach). */
  stepMs: number;
}

const maxVersion = { compute: 93, volume: 70, placement: 39 };

const fail = (status: number, message: string, type?: string): never => {
  throw new HttpError(status, message, type);
};

/** Volumes are sparse files of whole GiB: copy them keeping the holes, or a backup writes a GiB of zeros. */
export async function sparseCopy(from: string, to: string): Promise<void> {
  await promisify(execFile)('cp', ['--sparse=always', from, to]);
}

export class SimCloud {
  cloud: Cloud;
  private readonly dbPath: string;
  private readonly key: Buffer;
  private timers = new Set<NodeJS.Timeout>();

  constructor(readonly opts: SimOptions) {
    this.dbPath = join(opts.stateDir, 'cloud.json');
    this.cloud = loadCloud(this.dbPath) ?? freshCloud();
    // Like Fernet keys: tokens are signed, so they survive a restart of the API services.
    this.key = createHash('sha256').update(`${opts.password}:${this.cloud.projectId}`).digest();
  }

  get base(): string {
    return `http://127.0.0.1:${this.opts.port}`;
  }

  async init(): Promise<void> {
    await mkdir(join(this.opts.stateDir, 'volumes'), { recursive: true, mode: 0o755 });
    await mkdir(join(this.opts.stateDir, 'images'), { recursive: true, mode: 0o755 });
    if (!this.cloud.images.some((i) => i.name === 'vmc-base-v1')) await this.seedBaseImage();
    // Transitions cut short by a restart finish now, as nova-compute's periodic sync would.
    for (const s of this.cloud.servers) {
      if (s.taskState === 'powering-on' || s.status === 'BUILD') this.finishBoot(s);
      else if (s.taskState === 'powering-off') this.finishStop(s, true);
    }
    this.save();
  }

  /** The operator-published base image: its first line is the header the guest reports for its boot disk. */
  private async seedBaseImage(): Promise<void> {
    const id = randomUUID();
    const file = join(this.opts.stateDir, 'images', id);
    const content = Buffer.alloc(1024 * 1024);
    content.write('VMCIMG:base-v1\n');
    await writeFile(file, content);
    this.cloud.images.push({
      id,
      name: 'vmc-base-v1',
      status: 'active',
      diskFormat: 'raw',
      containerFormat: 'bare',
      size: content.length,
      checksum: createHash('md5').update(content).digest('hex'),
      hashAlgo: 'sha512',
      hashValue: createHash('sha512').update(content).digest('hex'),
      visibility: 'public',
      protected: true,
      tags: [],
      properties: { vmconform_version: 'v1' },
      created: now(),
      updated: now(),
      file,
    });
  }

  save(): void {
    saveCloud(this.dbPath, this.cloud);
  }

  later(ms: number, fn: () => void | Promise<void>): void {
    const t = setTimeout(async () => {
      this.timers.delete(t);
      try {
        await fn();
      } catch (e) {
        // A simulated background step that fails is a simulator bug: say so in its log.
        console.error(`simulator step failed: ${e instanceof Error ? e.stack : String(e)}`);
      }
      this.save();
    }, ms);
    this.timers.add(t);
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.save();
  }

  // ---- tokens ------------------------------------------------------------------------------
  issueToken(): { token: string; expires: string } {
    const exp = Date.now() + this.opts.tokenTtlS * 1000;
    const body = `${exp}.${randomBytes(12).toString('hex')}`;
    const sig = createHmac('sha256', this.key).update(body).digest('base64url');
    return { token: `gAAAAA${Buffer.from(body).toString('base64url')}.${sig}`, expires: new Date(exp).toISOString() };
  }

  tokenValid(token: string | undefined): boolean {
    if (!token?.startsWith('gAAAAA')) return false;
    const [b64, sig] = token.slice(6).split('.');
    if (!b64 || !sig) return false;
    const body = Buffer.from(b64, 'base64url').toString();
    if (createHmac('sha256', this.key).update(body).digest('base64url') !== sig) return false;
    return Number(body.split('.')[0]) > Date.now();
  }

  catalog(): unknown[] {
    const ep = (type: string, name: string, path: string) => ({
      id: createHash('md5').update(type).digest('hex'),
      type,
      name,
      endpoints: ['public', 'internal', 'admin'].map((iface) => ({
        id: createHash('md5')
          .update(type + iface)
          .digest('hex'),
        interface: iface,
        region_id: 'RegionOne',
        region: 'RegionOne',
        url: `${this.base}${path}`,
      })),
    });
    return [
      ep('identity', 'keystone', '/identity/v3'),
      ep('compute', 'nova', '/compute/v2.1'),
      ep('image', 'glance', '/image'),
      ep('network', 'neutron', '/network'),
      ep('volumev3', 'cinderv3', `/volume/v3/${this.cloud.projectId}`),
      ep('placement', 'placement', '/placement'),
    ];
  }

  // ---- helpers -----------------------------------------------------------------------------
  server(id: string): Server {
    return this.cloud.servers.find((s) => s.id === id) ?? fail(404, `Instance ${id} could not be found.`);
  }

  volume(id: string): Volume {
    return this.cloud.volumes.find((v) => v.id === id) ?? fail(404, `Volume ${id} could not be found.`);
  }

  flavor(id: string) {
    return this.cloud.flavors.find((f) => f.id === id) ?? fail(400, `Flavor ${id} could not be found.`);
  }

  newMac(): string {
    const n = this.cloud.nextMac++;
    return `fa:16:3e:${((n >> 16) & 255).toString(16).padStart(2, '0')}:${((n >> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;
  }

  action(s: Server, name: string, requestId: string, events: string[]): Action {
    const a: Action = {
      action: name,
      request_id: requestId,
      start_time: new Date().toISOString(),
      updated_at: null,
      message: null,
      events: events.map((event) => ({ event, start_time: new Date().toISOString(), finish_time: null, result: null })),
    };
    s.actions.push(a);
    return a;
  }

  finishAction(a: Action | undefined, ok: boolean, message?: string): void {
    if (!a) return;
    const t = new Date().toISOString();
    a.updated_at = t;
    if (!ok) a.message = 'Error';
    for (const e of a.events) {
      e.finish_time = t;
      e.result = ok ? 'Success' : 'Error';
    }
    if (message) a.message = message;
  }

  guestDisks(s: Server) {
    return s.volumes.map((sv) => {
      const v = this.volume(sv.volumeId);
      return {
        device: sv.device.replace('/dev/', ''),
        serial: novaDiskSerial(v.id),
        bytes: v.size * GiB,
        file: v.file,
      };
    });
  }

  guestNics(s: Server) {
    return s.ports.map((p) => ({ mac: this.cloud.ports.find((x) => x.id === p)?.mac ?? '' }));
  }

  async printState(s: Server): Promise<void> {
    if (s.powerState !== 1 || s.bootedAt === null) return;
    s.stateSeq++;
    s.console.push(await stateLine(s.stateSeq, this.guestDisks(s), this.guestNics(s)));
  }

  /** Power on: the guest runs its config-drive user data, then prints READY and its first STATE. */
  finishBoot(s: Server, a?: Action): void {
    s.status = 'ACTIVE';
    s.taskState = null;
    s.powerState = 1;
    s.bootedAt = Date.now();
    s.launchedAt ??= now();
    s.updated = now();
    s.stateSeq = 0;
    this.finishAction(a, true);
    this.later(this.opts.stepMs, async () => {
      if (s.powerState !== 1) return;
      const bootId = randomUUID();
      if (s.userData !== null) {
        const script = Buffer.from(s.userData, 'base64').toString();
        const sum = createHash('sha256').update(script).digest('hex');
        const rc = await runUserData(script, this.guestDisks(s), bootId);
        s.console.push(`VMC USERDATA status=${rc === -1 ? 'skipped' : 'ran'} rc=${rc} sha256=${sum}`);
      }
      s.console.push(`VMC METADATA instance_id=${s.id}`);
      s.console.push(readyLine(bootId));
      await this.printState(s);
    });
  }

  /** Power off; `graceful` is the ACPI request the guest sees before it powers off. */
  finishStop(s: Server, graceful: boolean, a?: Action): void {
    if (graceful && s.bootedAt !== null) s.console.push('VMC SHUTDOWN source=acpi');
    if (s.bootedAt !== null) s.cpuNs += (Date.now() - s.bootedAt) * 1e6 * 0.05;
    s.status = 'SHUTOFF';
    s.taskState = null;
    s.powerState = 4;
    s.bootedAt = null;
    s.updated = now();
    this.finishAction(a, true);
  }

  // ---- request dispatch --------------------------------------------------------------------
  async handle(req: IncomingMessage, res: ServerResponse, route: (c: Ctx) => Promise<Reply>): Promise<void> {
    const id = reqId();
    const url = new URL(req.url ?? '/', this.base);
    const service = (url.pathname.split('/')[1] ?? '') as Service;
    try {
      if (!['identity', 'compute', 'image', 'network', 'volume', 'placement'].includes(service))
        fail(404, `no service at ${url.pathname}`);
      const body = await readBody(req);
      const hdr = String(req.headers['openstack-api-version'] ?? '');
      let microversion = 1;
      if (service in maxVersion) {
        const m = new RegExp(`^${service}\\s+(\\d+)\\.(\\d+|latest)$`).exec(hdr.trim());
        const max = maxVersion[service as keyof typeof maxVersion];
        if (m) microversion = m[2] === 'latest' ? max : Number(m[2]);
        if (microversion > max) {
          const min = service === 'volume' ? '3.0' : service === 'placement' ? '1.0' : '2.1';
          throw new HttpError(
            406,
            `Version ${m?.[1]}.${m?.[2]} is not supported by the API. Minimum is ${min} and maximum is ${m?.[1]}.${max}.`,
          );
        }
      }
      const ctx: Ctx = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body,
        requestId: id,
        service,
        microversion,
        json: <T>() => {
          try {
            return JSON.parse(body.toString() || '{}') as T;
          } catch {
            throw new HttpError(400, 'Malformed request body');
          }
        },
      };
      const isAuth =
        service === 'identity' || /^\/(compute|image|network|volume|placement)\/?(v[\d.]+\/?)?$/.test(url.pathname);
      if (!isAuth && !this.tokenValid(req.headers['x-auth-token'] as string | undefined))
        throw new HttpError(401, 'The request you have made requires authentication.');
      const reply = await route(ctx);
      if (service in maxVersion && microversion > 1) {
        const major = service === 'volume' ? 3 : service === 'placement' ? 1 : 2;
        reply.headers = {
          ...reply.headers,
          'openstack-api-version': `${service} ${major}.${microversion}`,
          vary: 'OpenStack-API-Version',
        };
      }
      if (req.method !== 'GET') this.save();
      send(res, reply, id);
    } catch (e) {
      if (e instanceof HttpError) {
        // Keystone's 401 shape is what keystonemiddleware answers for every service.
        const svc = e.status === 401 ? 'identity' : service;
        send(res, errorReply(svc, e.status, e.message, id, e.type), id);
      } else {
        const msg = e instanceof Error ? e.message : String(e);
        send(res, errorReply(service, 500, `Unexpected API Error: ${msg}`, id), id);
      }
    }
  }

  // ---- volumes and files -------------------------------------------------------------------
  async createVolumeFile(id: string, sizeGb: number, fromFile?: string): Promise<string> {
    const file = join(this.opts.stateDir, 'volumes', `${id}.img`);
    if (fromFile) await sparseCopy(fromFile, file);
    else await (await open(file, 'w')).close();
    await truncate(file, sizeGb * GiB);
    return file;
  }

  async removeFile(file: string | null): Promise<void> {
    if (file) await rm(file, { force: true });
  }

  listen(route: (c: Ctx) => Promise<Reply>): Promise<ReturnType<typeof createServer>> {
    const srv = createServer((req, res) => void this.handle(req, res, route));
    return new Promise((resolve) => srv.listen(this.opts.port, '127.0.0.1', () => resolve(srv)));
  }
}
