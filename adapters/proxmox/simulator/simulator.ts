/**
 * A stateful Proxmox VE API simulator (HTTPS, loopback only). Every request is checked against the
 * reduced official schema before it is handled, and every answer against the schema's return shape,
 * so the adapter cannot rely on anything the published API does not allow. Reproduces what an
 * adapter must cope with: UPIDs that take time, failed tasks with a log, 401 after a delay on a bad
 * token, injected 500s, and release differences (7.4, 8.4, 9.x). What Proxmox does where an adapter
 * can go wrong (a lock reported at once or as a task's exit, lagging /cluster/resources fields, integer
 * booleans, size rounding, a failed restore's leftover, task visibility per privilege) is modelled on
 * Proxmox's own source: each such behaviour is a row of behaviours.ts (rendered to BEHAVIOUR.md) naming
 * the upstream file and function it reproduces and the test that checks it. Guests are simulated too: a
 * guest agent reports what a real guest would from the VM's config (MACs, disk serials, a boot id
 * that changes on every boot), which is why every verdict against it is `simulated`.
 */

import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certFingerprint } from '../../../host/certs.js';
import { diskHeader, runUserData } from '../../../host/guest/simulated.js';
import { simulatorHeader } from '../client.js';
import {
  type ApiSchema,
  checkReturn,
  type Endpoint,
  loadSchema,
  matchRoute,
  parsePropertyString,
  propFor,
  typedObject,
  validateParams,
} from './schema.js';

export interface SimulatorOptions {
  /** The release it answers as, as /version reports: '9.2.11', '8.4.1' or '7.4-17' (see behaviours.ts). */
  version: string;
  node: string;
  tokenId: string;
  tokenSecret: string;
  cert: string;
  key: string;
  port?: number;
  /** How long a task runs before it stops (ms). */
  taskMs?: number;
  /** Delay before a 401 on a bad token (Proxmox slows down failed authentication). */
  authDelayMs?: number;
  /** Directory holding the `local` storage's snippets (cicustom user/meta data). */
  snippetsDir: string;
  bridges?: string[];
  schema?: ApiSchema;
  /** pvestatd's cadence (ms): /cluster/resources' name, status and template lag by up to this (10 s upstream). */
  statusIntervalMs?: number;
  /** How long a clone waits for the new VMID's config lock (ms; 1 s upstream) before `got timeout`. */
  lockTimeoutMs?: number;
  /** The token's privileges on / (Sys.Audit, VM.Monitor, VM.GuestAgent.Audit, ...); all when neither this nor `acl` is given. */
  privileges?: string[];
  /**
   * The token's privileges per ACL path, each propagating to the paths below it (`/` covers every path),
   * e.g. `{ '/vms': ['VM.Audit'], '/nodes/pve1': ['Sys.Audit'] }`; replaces `privileges` when given.
   */
  acl?: Record<string, string[]>;
  /** datacenter.cfg as /cluster/options reads it (e.g. `user-tag-access`, `registered-tags`); empty by default. */
  datacenter?: Record<string, unknown>;
}

/**
 * The privileges /access/permissions lists for a token with every privilege (Administrator's, as
 * pve-access-control's $privgroups name them, limited to the ones the adapter's calls need). The
 * simulator enforces only Sys.Audit and the guest agent's (B-PERM-1..3); the rest are listed, not checked.
 */
export const allPrivileges = [
  'Sys.Audit',
  'Sys.Modify',
  'VM.Allocate',
  'VM.Audit',
  'VM.Backup',
  'VM.Clone',
  'VM.Config.CPU',
  'VM.Config.Cloudinit',
  'VM.Config.Disk',
  'VM.Config.HWType',
  'VM.Config.Memory',
  'VM.Config.Network',
  'VM.Config.Options',
  'VM.PowerMgmt',
  'VM.Monitor',
  'VM.GuestAgent.Audit',
  'VM.GuestAgent.FileRead',
  'VM.GuestAgent.Unrestricted',
  'Datastore.Allocate',
  'Datastore.AllocateSpace',
  'Datastore.Audit',
  'SDN.Use',
  'Pool.Audit',
];
/** Privileges one release does not have: 9.x dropped VM.Monitor for the VM.GuestAgent.* ones 8.4 lacks. */
const notIn: Record<string, string[]> = {
  '8': ['VM.GuestAgent.Audit', 'VM.GuestAgent.FileRead', 'VM.GuestAgent.Unrestricted'],
  '9': ['VM.Monitor'],
};
/** RPCEnvironment::get_effective_permissions' default top-level paths. */
const topPaths = ['/', '/access', '/access/groups', '/nodes', '/pool', '/sdn', '/storage', '/vms'];

/** What pvestatd last wrote to the rrd for a VM: /cluster/resources reads name, status and template from it. */
interface StatRow {
  name: string;
  status: 'running' | 'stopped';
  template: number;
  maxmem: number;
  maxcpu: number;
  maxdisk: number;
  uptime: number;
}

interface Volume {
  volid: string;
  storage: string;
  size: number;
  format: string;
  vmid: number;
  parent?: string;
  content: 'images' | 'backup';
  /** First line of the disk's first bytes, as the guest would read it. */
  hdr: string;
  notes?: string;
  ctime: number;
}

interface Vm {
  vmid: number;
  config: Record<string, string>;
  status: 'running' | 'stopped';
  template: boolean;
  /** The guest's VMC protocol log, kept on its boot disk across boots. */
  guestLog: string[];
  startedAt?: number;
  cpuSeconds: number;
  seq: number;
}

interface Task {
  upid: string;
  type: string;
  id: string;
  user: string;
  starttime: number;
  pstart: number;
  pid: number;
  endtime?: number;
  status: 'running' | 'stopped';
  exitstatus?: string;
  log: string[];
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: Record<string, string>,
  ) {
    super(message);
  }
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
interface Storage {
  type: string;
  content: string;
  total: number;
  enabled: boolean;
}
const defaultStorages = (): Record<string, Storage> => ({
  'local-lvm': { type: 'lvmthin', content: 'images,rootdir', total: 200 * GiB, enabled: true },
  local: { type: 'dir', content: 'iso,vztmpl,backup,snippets', total: 100 * GiB, enabled: true },
});

/** resize_vm's size parsing: `[+]N[.N][KMGT]`, int() of the bytes (B-SIZE-1). */
const sizeBytes = (s: string): number => {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)$/.exec(s);
  if (!m) throw new ApiError(400, `invalid size '${s}'`);
  return Math.floor(Number(m[1]) * 1024 ** ' KMGT'.indexOf(m[2] || ' '));
};
/** PVE::JSONSchema::format_size: the largest unit that divides the size exactly (bytes, K, M, G, T). */
const sizeText = (b: number): string => {
  let n = Math.floor(b);
  for (const u of ['', 'K', 'M', 'G']) {
    if (n % 1024 !== 0) return `${n}${u}`;
    n /= 1024;
  }
  return `${n}T`;
};
/** PVE::Tools::convert_size(GiB -> KiB) as a new disk's `STORAGE:SIZE` goes through: any fraction rounds up (B-SIZE-1). */
const allocKiB = (gib: string): number => {
  const v = Number(gib) * 2 ** 20;
  return v - Math.floor(v) > 0 ? Math.floor(v) + 1 : Math.floor(v);
};
/** LVM allocates whole extents (4 MiB by default): the volume an lvmthin storage makes is rounded up. */
const onStorage = (s: Storage | undefined, bytes: number): number =>
  s?.type === 'lvmthin' ? Math.ceil(bytes / (4 * MiB)) * 4 * MiB : bytes;
const now = () => Math.floor(Date.now() / 1000);
/** PVE::Tools::split_list, as tags are split. */
const splitTags = (tags: string | undefined) => (tags ?? '').split(/[;, ]/).filter(Boolean);

export class ProxmoxSimulator {
  readonly schema: ApiSchema;
  private server: Server | undefined;
  private readonly vms = new Map<number, Vm>();
  private readonly volumes = new Map<string, Volume>();
  private readonly tasks: Task[] = [];
  private readonly pools = new Map<string, Set<number>>([['vmconform', new Set()]]);
  private readonly failures: { key: string; status: number; message: string }[] = [];
  private readonly taskFailures: { type: string; message: string; log: string[] }[] = [];
  private readonly taskWarnings: { type: string; count: number }[] = [];
  private readonly storages = defaultStorages();
  /** pvestatd's view, refreshed every statusIntervalMs (entries of deleted VMs linger, as rrd data does). */
  private readonly stats = new Map<number, StatRow>();
  private readonly statTimer: NodeJS.Timeout;
  /** Clones holding a new VMID's config lock, until when (ms epoch). */
  private readonly cloneLocks = new Map<number, number>();
  /** Requests the schema refused, for tests and the lab log. */
  readonly rejected: { key: string; errors: Record<string, string> }[] = [];
  private pid = 4000;
  /** Bridges present on the simulated host: the managed ones plus one another tool made (NIC-05). */
  private get hostBridges(): string[] {
    return [...this.o.bridges, 'vmc-ext0'];
  }
  private readonly o: Required<Omit<SimulatorOptions, 'port' | 'schema' | 'acl' | 'datacenter'>> &
    Pick<SimulatorOptions, 'acl' | 'datacenter'> & { port: number };

  constructor(opts: SimulatorOptions) {
    this.schema = opts.schema ?? loadSchema();
    this.o = {
      taskMs: 400,
      authDelayMs: 1_000,
      bridges: ['vmbr0', 'vmbr1'],
      port: 0,
      statusIntervalMs: 10_000,
      lockTimeoutMs: 1_000,
      privileges: allPrivileges,
      ...opts,
    };
    this.statTimer = setInterval(() => this.refreshStats(), this.o.statusIntervalMs);
    this.statTimer.unref();
  }

  /** What pvestatd does every statusIntervalMs: the rrd rows /cluster/resources reads (B-RES-1). */
  refreshStats(): void {
    for (const vm of this.vms.values()) {
      const row = this.vmRow(vm);
      this.stats.set(vm.vmid, {
        name: row.name,
        status: row.status,
        template: vm.template ? 1 : 0,
        maxmem: row.maxmem,
        maxcpu: row.cpus,
        maxdisk: row.maxdisk,
        uptime: row.uptime,
      });
    }
  }

  /** Sets a storage's content types, as `pvesm set --content` does (e.g. without snippets). */
  setStorageContent(storage: string, content: string): void {
    const s = this.storages[storage];
    if (s) s.content = content;
  }

  /** Enables or disables a storage, as `pvesm set --disable` does. */
  setStorageEnabled(storage: string, enabled: boolean): void {
    const s = this.storages[storage];
    if (s) s.enabled = enabled;
  }

  /** The token's ACL: `acl`, or `privileges` on /, every ACL propagating to the paths below it. */
  private get acl(): Record<string, string[]> {
    return this.o.acl ?? { '/': this.o.privileges };
  }

  /**
   * The privileges held on a path, as RPCEnvironment::permissions compiles them: those of every ACL path
   * at or above it, less the ones this release does not have.
   */
  private privilegesOn(path: string): string[] {
    const held = Object.entries(this.acl)
      .filter(([p]) => p === '/' || path === p || path.startsWith(`${p}/`))
      .flatMap(([, privs]) => privs);
    const absent = notIn[this.major] ?? [];
    return [...new Set(held)].filter((p) => !absent.includes(p)).sort();
  }

  private can(priv: string, path = '/'): boolean {
    return this.privilegesOn(path).includes(priv);
  }

  /** PVE::RPCEnvironment::check_any: 403 `Permission check failed (path, a|b)` unless one is held (B-PERM-1). */
  private checkAny(path: string, privs: string[]): void {
    if (!privs.some((p) => this.can(p, path)))
      throw new ApiError(403, `Permission check failed (${path}, ${privs.join('|')})`);
  }

  /** Differences of another release (from its own api-viewer data) when the simulator runs as it. */
  private get older():
    | Record<
        string,
        { returns?: Endpoint['returns']; missingParameters?: string[]; parameters?: Endpoint['parameters'] }
      >
    | undefined {
    const rel = Object.entries(this.schema.otherReleases ?? {}).find(([v]) => v.split('.')[0] === this.major);
    return rel?.[1].differences;
  }

  get major(): string {
    return this.o.version.split('.')[0] ?? '8';
  }

  /** Injects an HTTP error for the next request matching `key` ('POST /nodes/{node}/qemu/{vmid}/status/start'). */
  failNext(key: string, status: number, message: string): void {
    this.failures.push({ key, status, message });
  }

  /** The next task of this type (qmstart, qmclone, vzdump, ...) fails with this message and log. */
  failNextTask(type: string, message: string, log: string[] = []): void {
    this.taskFailures.push({ type, message, log });
  }

  /** The next task of this type does its work and ends `WARNINGS: <count>` (B-TASK-3). */
  warnNextTask(type: string, count: number): void {
    this.taskWarnings.push({ type, count });
  }

  /** Sets a config lock as a long-running operation or a stale lock would. */
  lock(vmid: number, lock: string | undefined): void {
    const vm = this.vm(vmid);
    if (lock) vm.config.lock = lock;
    else delete vm.config.lock;
  }

  /** Everything the simulated cluster holds, so a restarted simulator (a daemon restart) keeps its VMs. */
  snapshot(): string {
    return JSON.stringify({
      vms: [...this.vms.values()],
      volumes: [...this.volumes.values()],
      tasks: this.tasks,
      pools: [...this.pools].map(([k, v]) => [k, [...v]]),
      pid: this.pid,
    });
  }

  load(json: string): void {
    const s = JSON.parse(json) as {
      vms: Vm[];
      volumes: Volume[];
      tasks: Task[];
      pools: [string, number[]][];
      pid: number;
    };
    this.vms.clear();
    for (const v of s.vms) this.vms.set(v.vmid, v);
    this.volumes.clear();
    for (const v of s.volumes) this.volumes.set(v.volid, v);
    this.tasks.splice(0, this.tasks.length, ...s.tasks);
    this.pools.clear();
    for (const [k, v] of s.pools) this.pools.set(k, new Set(v));
    this.pid = s.pid;
    this.refreshStats();
  }

  /** True while any task is still running (a restart waits for them, as forked Proxmox workers finish). */
  get busy(): boolean {
    return this.tasks.some((t) => t.status === 'running');
  }

  /** The VMID of a VM by name (tests and fault injection). */
  vmidOf(name: string): number | undefined {
    return [...this.vms.values()].find((v) => v.config.name === name)?.vmid;
  }

  /** A template VM carrying a base image, as an operator would publish one (long published: pvestatd knows it). */
  addTemplate(vmid: number, name: string, hdr: string, bytes = 64 * 1024 * 1024): void {
    const volid = `local-lvm:base-${vmid}-disk-0`;
    this.volumes.set(volid, {
      volid,
      storage: 'local-lvm',
      size: bytes,
      format: 'raw',
      vmid,
      content: 'images',
      hdr,
      ctime: now(),
    });
    this.vms.set(vmid, {
      vmid,
      config: {
        name,
        cores: '1',
        memory: '256',
        virtio0: `${volid},serial=boot,size=${sizeText(bytes)}`,
        tags: 'vmconform-image',
        template: '1',
        smbios1: `uuid=${randomUUID()}`,
        agent: '1',
      },
      status: 'stopped',
      template: true,
      guestLog: [],
      cpuSeconds: 0,
      seq: 0,
    });
    this.refreshStats();
  }

  async listen(): Promise<{ port: number; fingerprint256: string }> {
    this.server = createServer({ cert: this.o.cert, key: this.o.key }, (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString('utf8');
      });
      req.on('end', () => {
        void this.handle(req.method ?? 'GET', req.url ?? '/', req.headers, body).then(({ status, text, json }) => {
          // Says what it is on every answer, so no config can pass its results off as a real cluster's.
          res.writeHead(status, text, {
            'content-type': 'application/json;charset=UTF-8',
            [simulatorHeader]: 'proxmox',
          });
          res.end(JSON.stringify(json));
        });
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(this.o.port, '127.0.0.1', resolve));
    const port = (this.server.address() as AddressInfo).port;
    return { port, fingerprint256: certFingerprint(this.o.cert) };
  }

  async close(): Promise<void> {
    clearInterval(this.statTimer);
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** One request: auth, route, schema validation, injected faults, handler, return-shape check. */
  async handle(
    method: string,
    url: string,
    headers: Record<string, string | string[] | undefined>,
    body: string,
  ): Promise<{ status: number; text: string; json: unknown }> {
    const u = new URL(url, 'https://sim');
    const path = u.pathname.replace(/^\/api2\/json/, '');
    const auth = String(headers.authorization ?? '');
    if (auth !== `PVEAPIToken=${this.o.tokenId}=${this.o.tokenSecret}`) {
      await new Promise((r) => setTimeout(r, this.o.authDelayMs));
      return { status: 401, text: 'authentication failure', json: { data: null } };
    }
    const route = matchRoute(this.schema, method, path);
    if (!route) return { status: 501, text: `Method '${method} ${path}' not implemented`, json: { data: null } };
    const params: Record<string, string> = {};
    for (const [k, v] of u.searchParams) params[k] = v;
    if (body) for (const [k, v] of new URLSearchParams(body)) params[k] = v;
    // Running as another release: validated by its definitions, and what its schema lacks is refused as it would be.
    const other = this.older?.[route.key]?.parameters;
    const endpoint = other
      ? { ...route.endpoint, parameters: { ...route.endpoint.parameters, ...other } }
      : route.endpoint;
    const errors = validateParams(endpoint, { ...params, ...route.pathParams });
    for (const n of this.older?.[route.key]?.missingParameters ?? [])
      if (params[n] !== undefined)
        errors[n] = 'property is not defined in schema and the schema does not allow additional properties';
    if (Object.keys(errors).length > 0) {
      this.rejected.push({ key: route.key, errors });
      return { status: 400, text: 'Parameter verification failed.', json: { data: null, errors } };
    }
    const fault = this.failures.findIndex((f) => f.key === route.key);
    if (fault >= 0) {
      const [f] = this.failures.splice(fault, 1);
      return { status: f?.status ?? 500, text: f?.message ?? 'injected', json: { data: null } };
    }
    try {
      const data = this.route(route.key, { ...params, ...route.pathParams });
      const returns = this.older?.[route.key]?.returns ?? route.endpoint.returns;
      const bad = checkReturn(returns, data);
      if (bad) return { status: 500, text: `simulator answer does not match the schema: ${bad}`, json: { data: null } };
      return { status: 200, text: 'OK', json: { data: data ?? null } };
    } catch (e) {
      if (e instanceof ApiError)
        return { status: e.status, text: e.message, json: { data: null, ...(e.errors ? { errors: e.errors } : {}) } };
      return { status: 500, text: String((e as Error).message ?? e), json: { data: null } };
    }
  }

  private vm(vmid: number | string): Vm {
    const vm = this.vms.get(Number(vmid));
    if (!vm)
      throw new ApiError(500, `Configuration file 'nodes/${this.o.node}/qemu-server/${vmid}.conf' does not exist`);
    return vm;
  }

  private unlocked(vm: Vm): void {
    if (vm.config.lock) throw new ApiError(500, `VM is locked (${vm.config.lock})`);
  }

  private route(key: string, p: Record<string, string>): unknown {
    const [method, path] = key.split(' ') as [string, string];
    const node = this.o.node;
    if (p.node !== undefined && p.node !== node) throw new ApiError(595, `no such cluster node '${p.node}'`);
    switch (`${method} ${path}`) {
      case 'GET /version':
        return {
          version: this.o.version,
          release: this.o.version.split('-')[0]?.split('.').slice(0, 2).join('.') ?? '',
          repoid: 'a1b2c3d4',
        };
      case 'GET /nodes/{node}/status':
        // The schema's check: Sys.Audit on /nodes/{node} (B-PERM-3).
        this.checkAny(`/nodes/${node}`, ['Sys.Audit']);
        return {
          cpu: 0.05,
          uptime: 86_400,
          loadavg: ['0.10', '0.20', '0.30'],
          kversion: 'Linux 6.8.12-4-pve',
          pveversion: `pve-manager/${this.o.version}`,
          cpuinfo: {
            cpus: 16,
            cores: 8,
            sockets: 1,
            model: 'Simulated CPU',
            mhz: '2400',
            hvm: '1',
            flags: '',
            user_hz: 100,
          },
          memory: {
            total: 64 * GiB,
            used: this.usedMem(),
            free: 64 * GiB - this.usedMem(),
            available: 64 * GiB - this.usedMem(),
          },
          rootfs: { total: 100 * GiB, used: 10 * GiB, free: 90 * GiB, avail: 90 * GiB },
          swap: { total: 0, used: 0, free: 0 },
          'boot-info': { mode: 'efi' },
          'current-kernel': { sysname: 'Linux', release: '6.8.12-4-pve', version: '#1 SMP', machine: 'x86_64' },
          ksm: { shared: 0 },
        };
      case 'GET /cluster/resources':
        return this.resources(p.type);
      case 'GET /access/permissions': {
        // The caller's own effective privileges, per path (B-PERM-2): `path` alone, or the top-level
        // paths, the ACL's paths and the pool members' paths; a privilege maps to its propagate flag.
        const privs = (path: string) => Object.fromEntries(this.privilegesOn(path).map((x) => [x, 1]));
        if (p.path) {
          const one = privs(p.path);
          return Object.keys(one).length ? { [p.path]: one } : {};
        }
        const paths = new Set([
          ...topPaths,
          ...Object.keys(this.acl),
          ...[...this.pools.values()].flatMap((m) => [...m].map((id) => `/vms/${id}`)),
        ]);
        return Object.fromEntries(
          [...paths].map((x) => [x, privs(x)] as const).filter(([, v]) => Object.keys(v).length > 0),
        );
      }
      case 'GET /cluster/options': {
        // Without Sys.Audit on / only console and tag-style of datacenter.cfg, plus the tags this caller
        // may set (user-allow free or existing: every VM's tags; list: the list) (B-OPTS-1).
        const dc = this.o.datacenter ?? {};
        const shown = this.can('Sys.Audit')
          ? { ...dc }
          : Object.fromEntries(Object.entries(dc).filter(([k]) => k === 'console' || k === 'tag-style'));
        return { ...shown, 'allowed-tags': [...this.tagPolicy().allowed].sort() };
      }
      case 'GET /cluster/tasks':
        // A token sees none of its own tasks here without Sys.Audit on / (B-TASK-1).
        return this.can('Sys.Audit') ? this.tasks.slice(-200).map((t) => this.taskRow(t)) : [];
      case 'GET /cluster/nextid': {
        if (p.vmid) {
          if (this.vms.has(Number(p.vmid)))
            throw new ApiError(400, `VM ${p.vmid} already exists`, { vmid: `VM ${p.vmid} already exists` });
          return Number(p.vmid);
        }
        let id = 100;
        while (this.vms.has(id)) id++;
        return id;
      }
      case 'GET /nodes/{node}/network':
        return this.o.bridges.map((iface) => ({
          iface,
          type: 'bridge',
          // Perl integers: active 1 only while up, absent otherwise (B-NET-1).
          active: 1,
          autostart: 1,
          priority: 1,
          method: 'manual',
          method6: 'manual',
          families: ['inet'],
        }));
      case 'GET /nodes/{node}/storage':
        // Booleans are Perl integers on the wire; a disabled storage is listed, inactive, without sizes (B-STOR-1).
        return Object.entries(this.storages)
          .filter(([, s]) => !p.content || (s.enabled && s.content.split(',').includes(p.content)))
          .map(([storage, s]) => {
            if (!s.enabled) return { storage, type: s.type, content: s.content, active: 0, enabled: 0, shared: 0 };
            const used = [...this.volumes.values()]
              .filter((v) => v.storage === storage)
              .reduce((a, v) => a + v.size, 0);
            return {
              storage,
              type: s.type,
              content: s.content,
              active: 1,
              enabled: 1,
              shared: 0,
              total: s.total,
              used,
              avail: s.total - used,
            };
          });
      case 'GET /nodes/{node}/storage/{storage}/content':
        return [...this.volumes.values()]
          .filter(
            (v) =>
              v.storage === p.storage &&
              (!p.content || v.content === p.content) &&
              (!p.vmid || v.vmid === Number(p.vmid)),
          )
          .map((v) => ({
            volid: v.volid,
            format: v.format,
            size: v.size,
            used: v.size,
            vmid: v.vmid,
            ctime: v.ctime,
            content: v.content,
            ...(v.parent ? { parent: v.parent } : {}),
            // Only the first line of a backup's notes is listed (B-STOR-3).
            ...(v.notes ? { notes: v.notes.split('\n')[0] } : {}),
          }));
      case 'DELETE /nodes/{node}/storage/{storage}/content/{volume}': {
        const volid = p.volume?.includes(':') ? p.volume : `${p.storage}:${p.volume}`;
        const v = this.volumes.get(volid);
        if (!v) throw new ApiError(500, `volume '${volid}' does not exist`);
        // No VM config is consulted: the volume is freed even if a config still names it, which then
        // dangles. The task's id is `<owner vmid>@<storage>` (B-STOR-2).
        return this.task('imgdel', `${v.vmid}@${v.storage}`, () => {
          this.volumes.delete(volid);
        });
      }
      case 'GET /nodes/{node}/tasks': {
        // Finished tasks only unless source=active|all; a token sees its own tasks without Sys.Audit (B-TASK-2).
        const vmid = p.vmid;
        const source = p.source ?? 'archive';
        // Without it, a token sees only the tasks its own UPIDs name.
        return this.tasks
          .filter((t) => this.can('Sys.Audit', `/nodes/${node}`) || t.user === this.o.tokenId)
          .filter((t) => !vmid || t.id === vmid)
          .filter((t) => source === 'all' || (source === 'active') === (t.status === 'running'))
          .slice(-(Number(p.limit) || 50))
          .reverse()
          .map((t) => this.taskRow(t));
      }
      case 'GET /nodes/{node}/tasks/{upid}/status': {
        const t = this.tasks.find((x) => x.upid === p.upid);
        if (!t) throw new ApiError(500, `no such task`);
        if (t.user !== this.o.tokenId) this.checkAny(`/nodes/${node}`, ['Sys.Audit']);
        return this.taskRow(t);
      }
      case 'GET /nodes/{node}/tasks/{upid}/log': {
        const t = this.tasks.find((x) => x.upid === p.upid);
        if (!t) throw new ApiError(500, `no such task`);
        if (t.user !== this.o.tokenId) this.checkAny(`/nodes/${node}`, ['Sys.Audit']);
        const start = Number(p.start ?? 0);
        // At most `limit` lines, 50 unless asked (B-TASK-4).
        return t.log.slice(start, start + Number(p.limit ?? 50)).map((line, i) => ({ n: start + i + 1, t: line }));
      }
      case 'GET /nodes/{node}/qemu':
        // qemu-server's vmstatus: read from each config and the running processes, never lagging (B-RES-2).
        return [...this.vms.values()].map((vm) => {
          const r = this.vmRow(vm);
          return {
            vmid: r.vmid,
            name: r.name,
            status: r.status,
            cpus: r.cpus,
            maxmem: r.maxmem,
            mem: r.mem,
            maxdisk: r.maxdisk,
            uptime: r.uptime,
            ...(vm.template ? { template: 1 } : {}),
            ...(vm.config.tags !== undefined ? { tags: vm.config.tags } : {}),
            ...(vm.config.lock ? { lock: vm.config.lock } : {}),
          };
        });
      case 'POST /nodes/{node}/qemu':
        return this.createVm(p);
      case 'DELETE /nodes/{node}/qemu/{vmid}': {
        const vm = this.vm(p.vmid as string);
        // Running is refused at once; the lock is checked inside the task (B-LOCK-1).
        if (vm.status === 'running') throw new ApiError(500, `VM ${vm.vmid} is running - destroy failed`);
        return this.task('qmdestroy', String(vm.vmid), () => {
          this.unlocked(vm);
          for (const v of [...this.volumes.values()])
            if (v.vmid === vm.vmid && v.content === 'images') this.volumes.delete(v.volid);
          this.vms.delete(vm.vmid);
          for (const m of this.pools.values()) m.delete(vm.vmid);
        });
      }
      case 'GET /nodes/{node}/qemu/{vmid}/config': {
        const vm = this.vm(p.vmid as string);
        const digest = createHash('sha1').update(JSON.stringify(vm.config)).digest('hex');
        const key = 'GET /nodes/{node}/qemu/{vmid}/config';
        const returns = this.older?.[key]?.returns ?? this.schema.endpoints[key]?.returns ?? {};
        return typedObject(returns, { ...vm.config, digest });
      }
      case 'POST /nodes/{node}/qemu/{vmid}/config': {
        const vm = this.vm(p.vmid as string);
        // Refused before forking (8.4: under the lock in the API process; 9.x: the early check) (B-LOCK-2).
        this.unlocked(vm);
        const { node: _n, vmid: _v, digest: _d, ...changes } = p;
        if (changes.tags !== undefined) this.checkTags(vm.config.tags, changes.tags);
        this.checkConfig(changes);
        return this.task('qmconfig', String(vm.vmid), () => this.applyConfig(vm, changes));
      }
      case 'POST /nodes/{node}/qemu/{vmid}/clone': {
        const src = this.vm(p.vmid as string);
        // The early checks refuse at once: a locked source, a VMID whose config exists (B-LOCK-2, B-CLONE-1).
        this.unlocked(src);
        const newid = Number(p.newid);
        if (this.vms.has(newid)) throw new ApiError(500, `unable to create VM ${newid}: config file already exists`);
        if (!src.template && p.full === '0')
          throw new ApiError(500, 'Linked clone feature is not supported for a VM that is not a template');
        // The task takes the new VMID's config lock for 1 s at most: a concurrent clone of the same VMID
        // that passed the early check fails inside its task, timed out or finding the winner's config (B-CLONE-2).
        const held = this.cloneLocks.get(newid);
        if (held !== undefined) {
          const wait = held - Date.now();
          const timedOut = wait > this.o.lockTimeoutMs;
          return this.task(
            'qmclone',
            String(src.vmid),
            () => {
              throw new Error(
                timedOut
                  ? `can't lock file '/var/lock/qemu-server/lock-${newid}.conf' - got timeout`
                  : `unable to create VM ${newid}: config file already exists`,
              );
            },
            undefined,
            { ms: timedOut ? this.o.lockTimeoutMs : Math.max(wait, 0) + 1 },
          );
        }
        this.cloneLocks.set(newid, Date.now() + this.o.taskMs);
        // The temporary config (`lock: clone`) is written once the forked task holds the lock, a moment
        // after the call returned: until then /cluster/nextid still offers the VMID.
        let vm: Vm | undefined;
        const early = setTimeout(
          () => {
            vm ??= this.placeholder(newid, 'clone', p.pool);
          },
          Math.min(50, this.o.taskMs / 2),
        );
        return this.task(
          'qmclone',
          String(src.vmid),
          () => {
            clearTimeout(early);
            this.cloneLocks.delete(newid);
            vm ??= this.placeholder(newid, 'clone', p.pool);
            const config: Record<string, string> = { ...src.config, name: p.name ?? `Copy-of-VM-${src.config.name}` };
            delete config.template;
            config.smbios1 = `uuid=${randomUUID()}`;
            for (const [k, v] of Object.entries(config)) {
              if (!/^(virtio|ide|scsi|sata)\d+$/.test(k) || v.includes('media=cdrom')) continue;
              const base = this.volumes.get(v.split(',')[0] as string);
              if (!base) continue;
              const name = `vm-${newid}-disk-${this.nextDiskIndex(newid)}`;
              const volid = p.full === '0' ? `local-lvm:${base.volid.split(':')[1]}/${name}` : `local-lvm:${name}`;
              this.volumes.set(volid, {
                ...base,
                volid,
                vmid: newid,
                ctime: now(),
                ...(p.full === '0' ? { parent: base.volid.split(':')[1] } : {}),
              });
              config[k] = v.replace(base.volid, volid);
            }
            vm.config = config;
          },
          () => {
            clearTimeout(early);
            this.cloneLocks.delete(newid);
            this.vms.delete(newid);
            for (const v of [...this.volumes.values()]) if (v.vmid === newid) this.volumes.delete(v.volid);
          },
        );
      }
      case 'PUT /nodes/{node}/qemu/{vmid}/resize': {
        const vm = this.vm(p.vmid as string);
        // From 8.0 every check runs inside the `resize` task, the lock first (B-LOCK-1, B-SIZE-2);
        // 7.x resized synchronously and returned null.
        const apply = () => {
          this.unlocked(vm);
          const conf = vm.config[p.disk as string];
          if (!conf) throw new ApiError(500, `disk '${p.disk}' does not exist`);
          const vol = this.volumes.get(conf.split(',')[0] as string);
          if (!vol) throw new ApiError(500, `disk '${p.disk}' has no associated volume`);
          const size = p.size as string;
          // Compared with the volume's real size (volume_size_info), not the config's size=.
          const target = size.startsWith('+') ? vol.size + sizeBytes(size.slice(1)) : sizeBytes(size);
          if (target < vol.size) throw new ApiError(500, 'shrinking disks is not supported');
          if (target === vol.size) return;
          vol.size = onStorage(this.storages[vol.storage], target);
          vm.config[p.disk as string] = conf.replace(/size=[^,]+/, `size=${sizeText(target)}`);
          this.guestState(vm);
        };
        if (this.major === '7') {
          apply();
          return null;
        }
        return this.task('resize', String(vm.vmid), apply);
      }
      case 'POST /nodes/{node}/qemu/{vmid}/move_disk': {
        const vm = this.vm(p.vmid as string);
        const target = this.vm(p['target-vmid'] as string);
        this.unlocked(vm);
        this.unlocked(target);
        // Reassigning to another VM: both locks and both slots are checked before the task (B-MOVE-1).
        const conf = vm.config[p.disk as string];
        if (!conf) throw new ApiError(500, `Disk '${p.disk}' for VM '${vm.vmid}' does not exist`);
        if (target.config[p['target-disk'] as string])
          throw new ApiError(500, `Target disk key '${p['target-disk']}' is already in use for VM '${target.vmid}'`);
        return this.task('qmmove', String(vm.vmid), () => {
          const old = this.volumes.get(conf.split(',')[0] as string);
          if (!old) throw new Error(`volume of ${p.disk} missing`);
          const volid = `${old.storage}:vm-${target.vmid}-disk-${this.nextDiskIndex(target.vmid)}`;
          this.volumes.delete(old.volid);
          this.volumes.set(volid, { ...old, volid, vmid: target.vmid });
          delete vm.config[p.disk as string];
          target.config[p['target-disk'] as string] = `${volid},size=${sizeText(old.size)}`;
        });
      }
      case 'GET /nodes/{node}/qemu/{vmid}/status/current': {
        const vm = this.vm(p.vmid as string);
        return this.vmRow(vm, true);
      }
      case 'POST /nodes/{node}/qemu/{vmid}/status/start': {
        const vm = this.vm(p.vmid as string);
        // vm_start checks template, lock and running inside the task (B-LOCK-1, B-STATE-1).
        return this.task('qmstart', String(vm.vmid), () => {
          if (vm.template) throw new Error("you can't start a vm if it's a template");
          this.unlocked(vm);
          if (vm.status === 'running') throw new Error(`VM ${vm.vmid} already running`);
          this.boot(vm);
        });
      }
      case 'POST /nodes/{node}/qemu/{vmid}/status/stop': {
        const vm = this.vm(p.vmid as string);
        // _do_vm_stop returns before the lock check when the VM is not running: a no-op task (B-STATE-2).
        return this.task('qmstop', String(vm.vmid), () => {
          if (vm.status !== 'running') return;
          this.unlocked(vm);
          vm.status = 'stopped';
        });
      }
      case 'POST /nodes/{node}/qemu/{vmid}/status/shutdown': {
        const vm = this.vm(p.vmid as string);
        // The guest logs the ACPI request as it arrives and powers off when the task ends, as a real one does;
        // a locked VM gets no request (the task fails first), a stopped one is a no-op (B-LOCK-1, B-STATE-2).
        if (vm.status === 'running' && !vm.config.lock) vm.guestLog.push('VMC SHUTDOWN source=acpi');
        return this.task('qmshutdown', String(vm.vmid), () => {
          if (vm.status !== 'running') return;
          this.unlocked(vm);
          vm.status = 'stopped';
        });
      }
      case 'POST /nodes/{node}/qemu/{vmid}/status/reboot': {
        const vm = this.vm(p.vmid as string);
        // Not running is refused at once; the lock is checked by the stop inside the task (B-STATE-3, B-LOCK-1).
        if (vm.status !== 'running') throw new ApiError(500, `VM ${vm.vmid} not running`);
        // The task ends once the guest is down; qmeventd's `qm cleanup` then starts it again in a
        // qmstart task of its own, run as root@pam (B-REBOOT-1).
        return this.task('qmreboot', String(vm.vmid), () => {
          if (vm.status !== 'running') return;
          this.unlocked(vm);
          vm.guestLog.push('VMC SHUTDOWN source=acpi');
          vm.status = 'stopped';
          setTimeout(
            () =>
              this.task('qmstart', String(vm.vmid), () => this.boot(vm), undefined, {
                user: 'root@pam',
              }),
            Math.min(50, this.o.taskMs / 2),
          );
        });
      }
      case 'GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces': {
        // 8.4: VM.Monitor; 9.x: VM.GuestAgent.Audit or .Unrestricted (B-PERM-1).
        this.checkAny(
          `/vms/${p.vmid}`,
          this.major === '9' ? ['VM.GuestAgent.Audit', 'VM.GuestAgent.Unrestricted'] : ['VM.Monitor'],
        );
        const vm = this.agent(p.vmid as string);
        return {
          result: [
            {
              name: 'lo',
              'hardware-address': '00:00:00:00:00:00',
              'ip-addresses': [{ 'ip-address': '127.0.0.1', 'ip-address-type': 'ipv4', prefix: 8 }],
            },
            ...this.nics(vm).map((n) => ({
              name: n.name,
              'hardware-address': n.mac,
              statistics: { 'rx-bytes': 1000, 'tx-bytes': 500 },
            })),
          ],
        };
      }
      case 'GET /nodes/{node}/qemu/{vmid}/agent/file-read': {
        // 8.4: VM.Monitor; 9.x: VM.GuestAgent.FileRead or .Unrestricted (B-PERM-1).
        this.checkAny(
          `/vms/${p.vmid}`,
          this.major === '9' ? ['VM.GuestAgent.FileRead', 'VM.GuestAgent.Unrestricted'] : ['VM.Monitor'],
        );
        const vm = this.agent(p.vmid as string);
        if (p.file !== '/var/log/vmc/guest.log')
          throw new ApiError(500, `guest-file-open failed: No such file or directory`);
        return { content: `${vm.guestLog.join('\n')}\n` };
      }
      case 'POST /nodes/{node}/vzdump': {
        const vm = this.vm(p.vmid as string);
        // The backup lock is taken inside the job (set_lock): a locked VM fails it with `job errors` (B-LOCK-3).
        if (vm.config.lock) {
          const lock = vm.config.lock;
          return this.task(
            'vzdump',
            String(vm.vmid),
            () => {
              throw new Error('job errors');
            },
            undefined,
            { failLog: [`ERROR: Backup of VM ${vm.vmid} failed - VM is locked (${lock})`] },
          );
        }
        vm.config.lock = 'backup';
        const stamp = new Date().toISOString().replace(/[-:]/g, '_').replace('T', '-').slice(0, 19);
        const volid = `${p.storage ?? 'local'}:backup/vzdump-qemu-${vm.vmid}-${stamp}.vma.zst`;
        const notes = (p['notes-template'] ?? '')
          .replace('{{guestname}}', vm.config.name ?? '')
          .replace('{{vmid}}', String(vm.vmid));
        const snapshot = JSON.stringify({ config: vm.config, volumes: this.vmVolumes(vm) });
        return this.task(
          'vzdump',
          String(vm.vmid),
          () => {
            delete vm.config.lock;
            this.volumes.set(volid, {
              volid,
              storage: p.storage ?? 'local',
              size: this.vmVolumes(vm).reduce((a, v) => a + v.size, 0) || 1,
              format: 'vma.zst',
              vmid: vm.vmid,
              content: 'backup',
              hdr: snapshot,
              notes,
              ctime: now(),
            });
          },
          () => {
            delete vm.config.lock;
          },
        );
      }
      default:
        throw new ApiError(501, `Method '${key}' not implemented by the simulator`);
    }
  }

  private createVm(p: Record<string, string>): string {
    const vmid = Number(p.vmid);
    if (p.archive) {
      const backup = this.volumes.get(p.archive);
      if (backup?.content !== 'backup') throw new ApiError(500, `can't find archive '${p.archive}'`);
      if (this.vms.has(vmid))
        throw new ApiError(500, `unable to restore VM ${vmid} - VM ${vmid} already exists on node '${this.o.node}'`);
      const saved = JSON.parse(backup.hdr) as { config: Record<string, string>; volumes: Volume[] };
      // create_and_lock_config reserves the VMID before the task forks.
      const vm = this.placeholder(vmid, 'create', p.pool);
      return this.task(
        'qmrestore',
        String(vmid),
        () => {
          const config = { ...saved.config };
          delete config.lock;
          for (const [k, v] of Object.entries(config)) {
            const old = saved.volumes.find((x) => v.split(',')[0] === x.volid);
            if (!old) continue;
            const volid = `local-lvm:vm-${vmid}-disk-${this.nextDiskIndex(vmid)}`;
            this.volumes.set(volid, { ...old, volid, vmid, ctime: now() });
            config[k] = v.replace(old.volid, volid);
          }
          // unique=1 gives the restored VM new MACs and a new SMBIOS UUID, as `qmrestore --unique` does.
          if (p.unique === '1') {
            config.smbios1 = `uuid=${randomUUID()}`;
            for (const [k, v] of Object.entries(config))
              if (/^net\d+$/.test(k)) config[k] = v.replace(/=([0-9A-F:]{17})/i, `=${randomMac()}`);
          }
          vm.config = config;
        },
        // A failed restore frees the volumes it made and drops its lock, but leaves the VM's config:
        // "VM N state is NOT cleaned up" (B-RESTORE-1).
        () => {
          for (const v of [...this.volumes.values()])
            if (v.vmid === vmid && v.content === 'images') this.volumes.delete(v.volid);
          vm.config = {};
          return [
            `error before or during data restore, some or all disks were not completely restored. VM ${vmid} state is NOT cleaned up.`,
          ];
        },
      );
    }
    throw new ApiError(501, 'the simulator creates VMs by cloning a template or restoring a backup only');
  }

  /** The locked, empty VM a clone or restore holds while its task runs (its VMID is taken from the start). */
  private placeholder(vmid: number, lock: string, pool?: string): Vm {
    const vm: Vm = { vmid, config: { lock }, status: 'stopped', template: false, guestLog: [], cpuSeconds: 0, seq: 0 };
    this.vms.set(vmid, vm);
    if (pool) this.pools.get(pool)?.add(vmid);
    return vm;
  }

  /** GuestHelpers::get_allowed_tags: the tags this caller may set, from datacenter.cfg (B-OPTS-1). */
  private tagPolicy(): { allowed: Set<string>; registered: Set<string>; free: boolean; privileged: boolean } {
    const dc = this.o.datacenter ?? {};
    const access = (dc['user-tag-access'] ?? {}) as { 'user-allow'?: string; 'user-allow-list'?: string[] };
    const allow = access['user-allow'] ?? 'free';
    const registered = new Set((dc['registered-tags'] as string[] | undefined) ?? []);
    const privileged = this.can('Sys.Modify');
    const allowed = new Set<string>(allow !== 'none' || privileged ? (access['user-allow-list'] ?? []) : []);
    if (allow === 'free' || allow === 'existing' || privileged)
      for (const vm of this.vms.values()) for (const t of splitTags(vm.config.tags)) allowed.add(t);
    for (const t of registered) privileged ? allowed.add(t) : allowed.delete(t);
    return { allowed, registered, free: allow === 'free', privileged };
  }

  /** GuestHelpers::assert_tag_permissions: a tag added or removed must be allowed, or Sys.Modify on / held (B-OPTS-1). */
  private checkTags(old: string | undefined, next: string): void {
    const policy = this.tagPolicy();
    if (policy.privileged) return;
    const before = new Set(splitTags(old));
    const after = new Set(splitTags(next));
    for (const t of new Set([...before, ...after])) {
      if (before.has(t) === after.has(t)) continue;
      if ((!policy.allowed.has(t) && !policy.free) || policy.registered.has(t))
        throw new ApiError(403, `Permission check failed (/, Sys.Modify for modifying tag '${t}')`);
    }
  }

  /** Rejects what Proxmox refuses at config time: a cicustom snippet that does not exist. */
  private checkConfig(changes: Record<string, string>): void {
    for (const [k, v] of Object.entries(changes)) {
      if (k === 'cicustom')
        for (const part of v.split(',')) {
          const vol = part.split('=')[1] ?? '';
          const file = vol.replace(/^local:snippets\//, '');
          try {
            readFileSync(join(this.o.snippetsDir, file));
          } catch {
            throw new ApiError(500, `volume '${vol}' does not exist`);
          }
        }
    }
  }

  private applyConfig(vm: Vm, changes: Record<string, string>): void {
    for (const key of (changes.delete ?? '').split(/[,; ]/).filter(Boolean)) {
      const v = vm.config[key];
      if (v && /^(virtio|scsi|sata|ide)\d+$/.test(key) && !v.includes('media=cdrom')) {
        // A detached disk is kept as the VM's next unusedN, as Proxmox does.
        let n = 0;
        while (vm.config[`unused${n}`]) n++;
        vm.config[`unused${n}`] = v.split(',')[0] as string;
      } else if (v && /^unused\d+$/.test(key)) this.volumes.delete(v);
      delete vm.config[key];
    }
    const { delete: _d, ...rest } = changes;
    for (const [k, v] of Object.entries(rest)) {
      if (/^(virtio|scsi|sata)\d+$/.test(k)) {
        const [vol = '', ...opts] = v.split(',');
        const alloc = /^([\w-]+):(\d+(?:\.\d+)?)$/.exec(vol);
        if (alloc) {
          const storage = alloc[1] as string;
          if (!(storage in this.storages)) throw new Error(`storage '${storage}' does not exist`);
          // The config records the requested size rounded up to KiB; the volume is what the storage made (B-SIZE-1).
          const requested = allocKiB(alloc[2] as string) * 1024;
          const size = onStorage(this.storages[storage], requested);
          const volid = `${storage}:vm-${vm.vmid}-disk-${this.nextDiskIndex(vm.vmid)}`;
          this.volumes.set(volid, {
            volid,
            storage,
            size,
            format: 'raw',
            vmid: vm.vmid,
            content: 'images',
            hdr: '',
            ctime: now(),
          });
          vm.config[k] = [volid, ...opts.filter((o) => !o.startsWith('size=')), `size=${sizeText(requested)}`].join(
            ',',
          );
        } else {
          const existing = this.volumes.get(vol);
          if (!existing) throw new Error(`volume '${vol}' does not exist`);
          vm.config[k] = [vol, ...opts.filter((o) => !o.startsWith('size=')), `size=${sizeText(existing.size)}`].join(
            ',',
          );
          for (const [u, x] of Object.entries(vm.config)) if (/^unused\d+$/.test(u) && x === vol) delete vm.config[u];
        }
      } else vm.config[k] = v;
    }
    if (vm.status === 'running') this.guestState(vm);
  }

  private nextDiskIndex(vmid: number): number {
    let n = 0;
    const names = [...this.volumes.keys()].map((v) => v.split('/').at(-1) ?? v);
    while (names.some((v) => v.endsWith(`vm-${vmid}-disk-${n}`))) n++;
    return n;
  }

  private vmVolumes(vm: Vm): Volume[] {
    return Object.entries(vm.config)
      .filter(([k]) => /^(virtio|scsi|sata|ide|unused)\d+$/.test(k))
      .map(([, v]) => this.volumes.get(v.split(',')[0] as string))
      .filter((v): v is Volume => !!v);
  }

  private agentEnabled(vm: Vm): boolean {
    const a = vm.config.agent;
    return a === '1' || !!a?.startsWith('enabled=1') || !!a?.startsWith('1,');
  }

  /** The agent's preconditions, in upstream's order and words (B-AGENT-1). */
  private agent(vmid: string): Vm {
    const vm = this.vm(vmid);
    // Only an absent `agent` counts as not configured; a disabled one leaves no agent to answer.
    if (vm.config.agent === undefined) throw new ApiError(500, 'No QEMU guest agent configured');
    if (vm.status !== 'running') throw new ApiError(500, `VM ${vm.vmid} is not running`);
    if (!this.agentEnabled(vm) || !vm.guestLog.some((l) => l.startsWith('VMC READY')))
      throw new ApiError(500, 'QEMU guest agent is not running');
    return vm;
  }

  private nics(vm: Vm): { name: string; mac: string }[] {
    return Object.keys(vm.config)
      .filter((k) => /^net\d+$/.test(k))
      .sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)))
      .map((k, i) => ({
        name: `eth${i}`,
        mac: (/=([0-9A-Fa-f:]{17})/.exec(vm.config[k] ?? '')?.[1] ?? '').toLowerCase(),
      }));
  }

  /** What the simulated guest prints when it boots: user data, instance id, READY with a fresh boot id, STATE. */
  private boot(vm: Vm): void {
    // A missing bridge is found when the tap is plugged at start, as on a real node.
    const params = this.schema.endpoints['POST /nodes/{node}/qemu/{vmid}/config']?.parameters ?? {};
    for (const [k, v] of Object.entries(vm.config)) {
      if (!/^net\d+$/.test(k)) continue;
      const f = propFor(params, k)?.format;
      const bridge = typeof f === 'object' ? parsePropertyString(f, v).bridge : undefined;
      if (bridge && !this.hostBridges.includes(bridge)) throw new Error(`bridge '${bridge}' does not exist`);
    }
    vm.status = 'running';
    vm.startedAt = Date.now();
    const ci = Object.fromEntries(
      (vm.config.cicustom ?? '')
        .split(',')
        .filter(Boolean)
        .map((x) => x.split('=') as [string, string]),
    );
    const snippet = (vol?: string) =>
      vol ? readFileSync(join(this.o.snippetsDir, vol.replace(/^local:snippets\//, '')), 'utf8') : undefined;
    const user = snippet(ci.user);
    const meta = snippet(ci.meta);
    const bootId = randomUUID();
    // The guest's lines follow its user data, which really runs (async, as on a booting guest).
    // A failure to run it is the guest's exit code 127, never an unhandled rejection that ends the simulator.
    void this.runUserData(vm, user, bootId)
      .catch((e: unknown) => {
        console.error(`user data of VM ${vm.vmid}: ${e instanceof Error ? e.message : String(e)}`);
        return 127;
      })
      .then((rc) => {
        if (vm.status !== 'running') return;
        if (user !== undefined) {
          const sha = createHash('sha256').update(user).digest('hex');
          vm.guestLog.push(`VMC USERDATA status=${rc === -1 ? 'skipped' : 'ran'} rc=${rc} sha256=${sha}`);
        }
        const iid = meta ? /instance-id:\s*(\S+)/.exec(meta)?.[1] : undefined;
        if (iid) vm.guestLog.push(`VMC METADATA instance_id=${iid}`);
        vm.guestLog.push(
          `VMC READY boot_id=${bootId} kernel=6.1.0-sim fw=${vm.config.bios === 'ovmf' ? 'uefi' : 'bios'}`,
        );
        this.guestState(vm);
      })
      .catch((e: unknown) => console.error(`guest of VM ${vm.vmid}: ${e instanceof Error ? e.message : String(e)}`));
  }

  /**
   * Runs a `#!` user-data script against the VM's disks the way the OpenStack simulator's guest does
   * (its runUserData: as nobody, `vmc-disk` resolving serials): each volume's header goes to a small
   * file and what the script wrote there comes back as the volume's header.
   */
  private async runUserData(vm: Vm, script: string | undefined, bootId: string): Promise<number> {
    if (script === undefined || !script.startsWith('#!')) return -1;
    const dir = await mkdtemp(join(tmpdir(), 'vmc-pve-guest-'));
    try {
      await chmod(dir, 0o755); // the script runs as nobody: it must reach the disk files
      const disks = Object.keys(vm.config)
        .filter((k) => /^virtio\d+$/.test(k))
        .map((k) => {
          const conf = vm.config[k] ?? '';
          return {
            k,
            vol: this.volumes.get(conf.split(',')[0] as string),
            serial: /serial=([^,]+)/.exec(conf)?.[1] ?? '',
          };
        })
        .filter((d) => d.vol && d.serial);
      const files = [];
      for (const d of disks) {
        const file = join(dir, `${d.k}.img`);
        await writeFile(
          file,
          Buffer.concat([Buffer.from(d.vol?.hdr ? `${d.vol.hdr}\n` : ''), Buffer.alloc(64 * 1024)]).subarray(
            0,
            64 * 1024,
          ),
        );
        files.push({ device: d.k, serial: d.serial, bytes: d.vol?.size ?? 0, file });
      }
      const rc = await runUserData(script, files, bootId);
      for (const [i, d] of disks.entries()) if (d.vol) d.vol.hdr = await diskHeader(files[i]?.file as string);
      return rc;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private guestState(vm: Vm): void {
    if (vm.status !== 'running') return;
    const disks = Object.keys(vm.config)
      .filter((k) => /^virtio\d+$/.test(k))
      .sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)))
      .map((k, i) => {
        const conf = vm.config[k] ?? '';
        const vol = this.volumes.get(conf.split(',')[0] as string);
        const serial = /serial=([^,]+)/.exec(conf)?.[1] ?? '';
        return `vd${String.fromCharCode(97 + i)}:${serial}:${vol?.size ?? 0}:${vol?.hdr ?? ''}`;
      });
    const nics = this.nics(vm).map((n) => `${n.name}:${n.mac}`);
    vm.guestLog.push(`VMC STATE seq=${++vm.seq} disks=${disks.join(',')} nics=${nics.join(',')}`);
  }

  private usedMem(): number {
    return [...this.vms.values()]
      .filter((v) => v.status === 'running')
      .reduce((a, v) => a + Number(v.config.memory ?? 512) * 1024 * 1024, 2 * GiB);
  }

  private vmRow(vm: Vm, full = false) {
    const running = vm.status === 'running';
    const uptime = running && vm.startedAt ? Math.max(1, Math.floor((Date.now() - vm.startedAt) / 1000)) : 0;
    const maxmem = Number(vm.config.memory ?? 512) * 1024 * 1024;
    const maxdisk = this.vmVolumes(vm).find((v) => v.content === 'images')?.size ?? 0;
    return {
      vmid: vm.vmid,
      name: vm.config.name ?? `VM ${vm.vmid}`,
      status: vm.status,
      cpus: Number(vm.config.cores ?? 1),
      maxmem,
      mem: running ? Math.floor(maxmem / 2) : 0,
      maxdisk,
      disk: 0,
      cpu: running ? 0.02 : 0,
      uptime,
      netin: running ? 1000 * uptime + 1000 : 0,
      netout: running ? 500 * uptime + 500 : 0,
      diskread: running ? 4096 * 1024 : 0,
      diskwrite: running ? 1024 : 0,
      ...(vm.config.tags ? { tags: vm.config.tags } : {}),
      ...(vm.template ? { template: true } : {}),
      ...(vm.config.lock ? { lock: vm.config.lock } : {}),
      // status/current adds `agent: 1` only when the agent is enabled (an integer, never false) (B-STATUS-1).
      ...(full ? { qmpstatus: vm.status, ...(this.agentEnabled(vm) ? { agent: 1 } : {}), ha: { managed: 0 } } : {}),
    };
  }

  private resources(type?: string) {
    const node = this.o.node;
    const out: Record<string, unknown>[] = [];
    // Without Sys.Audit on /nodes/{node} the node is listed with its status but no figures (B-PERM-3).
    if (!type || type === 'node')
      out.push({
        id: `node/${node}`,
        type: 'node',
        node,
        status: 'online',
        ...(this.can('Sys.Audit', `/nodes/${node}`)
          ? {
              maxcpu: 16,
              maxmem: 64 * GiB,
              mem: this.usedMem(),
              cpu: 0.05,
              maxdisk: 100 * GiB,
              disk: 10 * GiB,
              uptime: 86_400,
            }
          : {}),
      });
    if (!type || type === 'vm')
      for (const vm of this.vms.values()) {
        // The VM list, tags and lock are current; name, status, template and sizes are pvestatd's last
        // rrd row for the VMID: `unknown` without a name for a new VM, the old VM's for a reused one (B-RES-1).
        const { vmid, mem, cpu } = this.vmRow(vm);
        const st = this.stats.get(vmid);
        out.push({
          id: `qemu/${vmid}`,
          type: 'qemu',
          node,
          vmid,
          status: st?.status ?? 'unknown',
          ...(st
            ? {
                name: st.name,
                maxcpu: st.maxcpu,
                maxmem: st.maxmem,
                mem: st.status === 'running' ? mem : 0,
                maxdisk: st.maxdisk,
                disk: 0,
                cpu: st.status === 'running' ? cpu : 0,
                uptime: st.uptime,
                template: st.template,
              }
            : {}),
          ...(vm.config.tags ? { tags: vm.config.tags } : {}),
          ...(vm.config.lock ? { lock: vm.config.lock } : {}),
          ...([...this.pools].find(([, m]) => m.has(vmid))
            ? { pool: [...this.pools].find(([, m]) => m.has(vmid))?.[0] }
            : {}),
        });
      }
    if (!type || type === 'storage')
      for (const [storage, s] of Object.entries(this.storages))
        out.push({
          id: `storage/${node}/${storage}`,
          type: 'storage',
          node,
          storage,
          status: 'available',
          maxdisk: s.total,
          disk: 0,
          plugintype: s.type,
          content: s.content,
          shared: 0,
        });
    if (!type || type === 'pool')
      for (const poolid of this.pools.keys()) out.push({ id: `/pool/${poolid}`, type: 'pool', pool: poolid });
    return out;
  }

  /** A task as the task APIs list it: a token's UPID user is split into user and tokenid (B-TASK-1). */
  private taskRow(t: Task) {
    const [user, tokenid] = t.user.split('!') as [string, string | undefined];
    return {
      upid: t.upid,
      node: this.o.node,
      pid: t.pid,
      pstart: t.pstart,
      starttime: t.starttime,
      type: t.type,
      id: t.id,
      user,
      ...(tokenid ? { tokenid } : {}),
      status: t.status,
      ...(t.endtime ? { endtime: t.endtime } : {}),
      ...(t.exitstatus ? { exitstatus: t.exitstatus } : {}),
    };
  }

  /**
   * Starts a task that runs for `ms` (taskMs), then applies `effect` (or fails, with a log); returns its
   * UPID. A rollback may return lines the failed task logs before its error.
   */
  private task(
    type: string,
    id: string,
    effect: () => void,
    rollback?: () => unknown,
    opts: { ms?: number; failLog?: string[]; user?: string } = {},
  ): string {
    const { ms = this.o.taskMs, failLog = [], user = this.o.tokenId } = opts;
    const pid = ++this.pid;
    const starttime = now();
    const hex = (n: number, w: number) => n.toString(16).toUpperCase().padStart(w, '0');
    const upid = `UPID:${this.o.node}:${hex(pid, 8)}:${hex(pid * 7, 8)}:${hex(starttime, 8)}:${type}:${id}:${user}:`;
    const t: Task = {
      upid,
      type,
      id,
      user,
      starttime,
      pstart: pid * 7,
      pid,
      status: 'running',
      log: [],
    };
    this.tasks.push(t);
    const injected = this.taskFailures.findIndex((f) => f.type === type);
    setTimeout(() => {
      t.endtime = now();
      t.status = 'stopped';
      if (injected >= 0) {
        const [f] = this.taskFailures.splice(injected, 1);
        const more = logLines(rollback?.());
        t.log.push(...(f?.log ?? []), ...more, `TASK ERROR: ${f?.message}`);
        t.exitstatus = f?.message ?? 'error';
        return;
      }
      try {
        effect();
        const w = this.taskWarnings.findIndex((x) => x.type === type);
        const warned = w >= 0 ? this.taskWarnings.splice(w, 1)[0] : undefined;
        t.exitstatus = warned ? `WARNINGS: ${warned.count}` : 'OK';
        t.log.push(`TASK ${t.exitstatus}`);
      } catch (e) {
        const more = logLines(rollback?.());
        t.log.push(...failLog, ...more, `TASK ERROR: ${(e as Error).message}`);
        t.exitstatus = (e as Error).message;
      }
    }, ms);
    return upid;
  }
}

/** The lines a rollback returned for the failed task's log (a rollback may return nothing). */
const logLines = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);

export const randomMac = () =>
  `BC:24:11:${[...randomBytes(3)].map((b) => b.toString(16).toUpperCase().padStart(2, '0')).join(':')}`;
