/**
 * `vmconform preflight -p proxmox`: what a run against this cluster would lack, asked of the cluster
 * before the run. The token's privileges come from GET /access/permissions (its own, per path: B-PERM-2),
 * compared with what each call the adapter makes needs (the published schema's `permissions`, and
 * qemu-server's checks where the schema only describes them); the storages' content types from the
 * node's storage list; the template and the tag policy from the node and /cluster/options (B-OPTS-1).
 * Each failed check names the calls it breaks and the requirements that would end without a verdict.
 */
import { access, constants } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Transcript } from '../../evidence/transcript.js';
import { ownershipMarker, type PreflightCheck } from '../contract/index.js';
import { ProxmoxClient } from './client.js';
import type { ProxmoxConfig } from './core.js';

/**
 * Which requirements' tests use what, read from the suites (their fixtures included) at this commit:
 * the cost of a missing privilege or storage is the union of the sets it breaks.
 */
const uses = {
  /** Every test that makes a VM: all that have a test but the platform-only AUT-01, OPS-03, STO-03. */
  vm: [
    ...['LC-01', 'LC-02', 'LC-03', 'LC-04', 'LC-05', 'LC-06', 'LC-07', 'LC-08', 'DSK-01', 'DSK-02', 'DSK-03'],
    ...['DSK-04', 'DSK-05', 'NIC-01', 'NIC-02', 'NIC-03', 'NIC-04', 'NIC-05', 'NIC-06', 'INS-01', 'INS-02'],
    ...['ID-01', 'ID-02', 'OBS-01', 'OBS-02', 'OBS-03', 'OBS-04', 'INV-01', 'INV-02', 'INV-03', 'INV-04'],
    ...['IMG-01', 'IMG-02', 'IMG-03', 'IMG-04', 'IMG-05', 'MDC-01', 'MDC-02', 'MDC-03', 'MDC-04', 'STO-01'],
    ...['STO-02', 'OPS-01', 'OPS-02', 'OPS-04', 'OPS-05', 'INT-01', 'INT-02', 'INT-03'],
  ],
  power: [
    ...['LC-02', 'LC-03', 'LC-04', 'LC-05', 'LC-06', 'LC-07', 'DSK-01', 'DSK-02', 'DSK-03', 'DSK-04'],
    ...['NIC-02', 'NIC-03', 'NIC-05', 'NIC-06', 'INS-01', 'INS-02', 'ID-01', 'ID-02', 'OBS-02', 'OBS-03', 'OBS-04'],
    ...['INV-02', 'INV-04', 'IMG-01', 'IMG-02', 'IMG-03', 'IMG-04', 'MDC-01', 'MDC-03', 'MDC-04'],
    ...['STO-01', 'STO-02', 'OPS-01', 'OPS-02', 'OPS-04', 'OPS-05', 'INT-01', 'INT-02', 'INT-03'],
  ],
  /** The guest's own report through the agent. */
  guest: [
    ...['LC-02', 'LC-03', 'LC-04', 'DSK-01', 'DSK-02', 'DSK-03', 'DSK-04', 'NIC-02', 'NIC-03', 'NIC-05', 'NIC-06'],
    ...['ID-01', 'ID-02', 'OBS-04', 'IMG-01', 'IMG-02', 'IMG-03', 'IMG-04', 'MDC-01', 'MDC-03', 'MDC-04'],
    ...['STO-01', 'STO-02', 'OPS-02', 'OPS-04', 'OPS-05'],
  ],
  disks: ['DSK-01', 'DSK-02', 'DSK-03', 'DSK-04', 'DSK-05', 'STO-01', 'STO-02', 'OPS-01'],
  /** Cloud-init user data (cicustom snippets): the disk tests' fixture writes its marker with it. */
  userData: ['DSK-01', 'DSK-02', 'DSK-03', 'DSK-04', 'IMG-03', 'IMG-04', 'STO-01', 'STO-02'],
  backup: ['STO-01', 'MDC-03', 'MDC-04'],
  /** Volume and pool listings. */
  storage: ['LC-05', 'LC-08', 'DSK-03', 'DSK-05', 'OBS-03', 'STO-03'],
  /** VMs on the second network. */
  network2: ['LC-01', 'LC-02', 'LC-03', 'LC-04', 'LC-05', 'NIC-01', 'NIC-02', 'NIC-03', 'NIC-05', 'NIC-06'],
  /** Host objects with capacity (node figures). */
  hostFigures: ['INV-01', 'INV-04'],
};
export const preflightUses = uses;

/** A check nothing else can go without (the API, the node, the token's own privileges): every VM test. */
const automatable = uses.vm;
const union = (...sets: string[][]) => [...new Set(sets.flat())].sort();
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** A privilege (or any of several) the adapter needs on an ACL path, what it gates and what its absence costs. */
interface Need {
  path: string;
  anyOf: string[];
  calls: string;
  affects: string[];
}

export interface ProxmoxPreflightConfig
  extends Pick<ProxmoxConfig, 'node' | 'storage' | 'snippetStorage' | 'snippetsDir' | 'backupStorage' | 'pool'> {
  image: string;
  network: string;
  network2: string;
}

function needs(c: ProxmoxPreflightConfig, major: string, template: number | undefined): Need[] {
  const vms = '/vms';
  const vm = (anyOf: string[], calls: string, affects: string[]): Need => ({ path: vms, anyOf, calls, affects });
  const agent =
    major === '8'
      ? [vm(['VM.Monitor'], 'GET agent/network-get-interfaces, agent/file-read (guest reports)', uses.guest)]
      : [
          vm(
            ['VM.GuestAgent.Audit', 'VM.GuestAgent.Unrestricted'],
            'GET agent/network-get-interfaces (the guest NICs)',
            uses.guest,
          ),
          vm(
            ['VM.GuestAgent.FileRead', 'VM.GuestAgent.Unrestricted'],
            'GET agent/file-read (the guest log)',
            uses.guest,
          ),
        ];
  const bridge = (net: string, affects: string[]): Need => ({
    path: `/sdn/zones/localnetwork/${net}`,
    anyOf: ['SDN.Use'],
    calls: `POST qemu/{vmid}/config net[n] on ${net}`,
    affects,
  });
  return [
    ...(template !== undefined
      ? [
          {
            path: `/vms/${template}`,
            anyOf: ['VM.Clone'],
            calls: 'POST qemu/{template}/clone (create)',
            affects: uses.vm,
          },
        ]
      : []),
    {
      path: c.pool ? `/pool/${c.pool}` : vms,
      anyOf: ['VM.Allocate'],
      calls: 'POST clone newid, POST /nodes/{node}/qemu (restore), DELETE qemu/{vmid}',
      affects: uses.vm,
    },
    vm(['VM.Audit'], 'GET qemu, qemu/{vmid}/config, status/current (locate, inspect)', uses.vm),
    vm(['VM.Config.CPU'], 'POST qemu/{vmid}/config cores', uses.vm),
    vm(['VM.Config.Memory'], 'POST qemu/{vmid}/config memory', uses.vm),
    vm(['VM.Config.Options'], 'POST qemu/{vmid}/config name, tags, description, agent, bios', uses.vm),
    vm(['VM.Config.HWType'], 'POST qemu/{vmid}/config smbios1 (the VM identity)', uses.vm),
    vm(['VM.Config.Network'], 'POST qemu/{vmid}/config net[n]', uses.vm),
    vm(['VM.Config.Disk'], 'POST qemu/{vmid}/config virtio[n], PUT resize, POST move_disk', uses.disks),
    vm(['VM.Config.Cloudinit'], 'POST qemu/{vmid}/config cicustom, ide2 cloudinit (user data)', uses.userData),
    vm(['VM.PowerMgmt'], 'POST status/start, stop, shutdown, reboot', uses.power),
    vm(['VM.Backup'], 'POST vzdump', uses.backup),
    ...agent,
    {
      path: `/storage/${c.storage}`,
      anyOf: ['Datastore.AllocateSpace'],
      calls: `new disks, cloud-init drives and restores on ${c.storage}`,
      affects: union(uses.disks, uses.userData, uses.backup),
    },
    {
      path: `/storage/${c.storage}`,
      anyOf: ['Datastore.Audit', 'Datastore.AllocateSpace'],
      calls: `GET /nodes/{node}/storage, storage/${c.storage}/content (volumes, pools)`,
      affects: uses.storage,
    },
    {
      path: `/storage/${c.backupStorage}`,
      anyOf: ['Datastore.AllocateSpace'],
      calls: `POST vzdump storage=${c.backupStorage}, DELETE its backup volumes`,
      affects: uses.backup,
    },
    bridge(c.network, uses.vm),
    ...(c.network2 !== c.network ? [bridge(c.network2, uses.network2)] : []),
    {
      path: `/nodes/${c.node}`,
      anyOf: ['Sys.Audit'],
      calls:
        "GET /nodes/{node}/status (hypervisor version), /cluster/resources node figures (host capacity), other users' tasks",
      affects: uses.hostFigures,
    },
    {
      path: '/',
      anyOf: ['Sys.Audit'],
      calls:
        'GET /cluster/options user-tag-access and registered-tags (the tag policy); /cluster/tasks (not used: tasks are read per node)',
      affects: [],
    },
  ];
}

/** user-tag-access as datacenter.cfg holds it: parsed (an object) or a property string. */
function userAllow(v: unknown): string {
  if (v && typeof v === 'object') return String((v as Record<string, unknown>)['user-allow'] ?? 'free');
  if (typeof v === 'string') return /(?:^|,)user-allow=([^,]+)/.exec(v)?.[1] ?? 'free';
  return 'free';
}

/** The directory is writable, or its nearest existing parent is (the adapter makes it on first use). */
async function creatable(dir: string): Promise<boolean> {
  for (let d = resolve(dir); ; d = dirname(d)) {
    const ok = await access(d, constants.W_OK).then(
      () => true,
      (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : false),
    );
    if (ok !== undefined) return ok;
    if (d === dirname(d)) return false;
  }
}

const ours = (t: string) => t === ownershipMarker || /^vmc-(run|site|fd)\./.test(t);

/** The Proxmox checks against a cluster reached with this client; never throws (a failed read is a failed check). */
export async function proxmoxPreflight(api: ProxmoxClient, c: ProxmoxPreflightConfig): Promise<PreflightCheck[]> {
  const checks: PreflightCheck[] = [];
  const node = `/nodes/${encodeURIComponent(c.node)}`;
  const read = async <T>(name: string, affects: string[], f: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await f();
    } catch (e) {
      checks.push({ name, ok: false, detail: message(e), affects });
      return undefined;
    }
  };

  const version = await read('PVE release', automatable, () =>
    api.get<{ version: string; release?: string }>('/version'),
  );
  const major = version?.version.split('.')[0] ?? '9';
  if (version) {
    const modelled = major === '8' || major === '9';
    checks.push({
      name: 'PVE release',
      ok: modelled,
      detail: modelled
        ? `${version.version}: the simulator's ${major === '8' ? '8.4' : '9.x'} mode models it (simulator/BEHAVIOUR.md)`
        : `${version.version}: not a release the behaviour table models (8.4, 9.x); the adapter is unproven there`,
      affects: [],
    });
  }

  const nodes = await read(`node ${c.node}`, automatable, () =>
    api.get<{ node?: string; status?: string }[]>('/cluster/resources', { type: 'node' }),
  );
  if (nodes) {
    const n = nodes.find((x) => x.node === c.node);
    checks.push({
      name: `node ${c.node}`,
      ok: n?.status === 'online',
      detail: n ? `listed, ${n.status}` : `not in /cluster/resources (nodes: ${nodes.map((x) => x.node).join(', ')})`,
      affects: n?.status === 'online' ? [] : automatable,
    });
  }

  // The template the image names: a linked clone's source.
  const listed = await read('template VM', uses.vm, () =>
    api.get<{ vmid: number; name?: string; template?: number | boolean }[]>(`${node}/qemu`),
  );
  const tpl = listed?.find((r) => r.template && r.name === c.image);
  if (listed) {
    const agent = tpl
      ? await api.get<{ agent?: string }>(`${node}/qemu/${tpl.vmid}/config`).then(
          (cfg) => cfg.agent ?? 'not set',
          (e: unknown) => `unreadable (${message(e)})`,
        )
      : '';
    checks.push({
      name: 'template VM',
      ok: !!tpl,
      detail: tpl
        ? `VM ${tpl.vmid} '${c.image}' is a template (agent: ${agent}; the adapter enables the agent on each clone, whether the image runs qemu-guest-agent only a boot shows)`
        : `no template named '${c.image}' among the ${listed.length} VMs this token can see on ${c.node}`,
      affects: tpl ? [] : uses.vm,
    });
  }

  // Privileges, per path the adapter's calls check (B-PERM-2).
  const held = new Map<string, Set<string>>();
  let permissionsRead = true;
  for (const n of needs(c, major, tpl?.vmid)) {
    if (!held.has(n.path)) {
      const got = await read('token privileges (GET /access/permissions)', automatable, () =>
        api.get<Record<string, Record<string, number>>>('/access/permissions', { path: n.path }),
      );
      if (!got) {
        permissionsRead = false;
        break;
      }
      held.set(n.path, new Set(Object.keys(got[n.path] ?? {})));
    }
    const has = n.anyOf.some((p) => held.get(n.path)?.has(p));
    checks.push({
      name: `privilege ${n.anyOf.join(' or ')} on ${n.path}`,
      ok: has,
      detail: has ? n.calls : `missing: breaks ${n.calls}`,
      affects: has ? [] : n.affects,
    });
  }

  // Storages and their content types (active and enabled are 0/1: B-STOR-1).
  const storages = await read('storages', automatable, () =>
    api.get<{ storage: string; content?: string; active?: number; enabled?: number }[]>(`${node}/storage`),
  );
  if (storages)
    for (const [id, content, affects] of [
      [c.storage, 'images', union(uses.disks, uses.userData, uses.backup)],
      [c.snippetStorage, 'snippets', uses.userData],
      [c.backupStorage, 'backup', uses.backup],
    ] as const) {
      const s = storages.find((x) => x.storage === id);
      const types = (s?.content ?? '').split(',');
      const ok = !!s && s.enabled !== 0 && s.active === 1 && types.includes(content);
      checks.push({
        name: `storage ${id} holds ${content}`,
        ok,
        detail: !s
          ? `not listed for this token (missing, or no Datastore.Audit or Datastore.AllocateSpace on /storage/${id})`
          : `${s.enabled === 0 ? 'disabled, ' : s.active !== 1 ? 'inactive, ' : ''}content ${s.content ?? 'none'}`,
        affects: ok ? [] : affects,
      });
    }

  // User data goes in as snippet files written from this host: the API cannot upload snippets.
  const dir = c.snippetsDir;
  const writable = dir ? await creatable(dir) : false;
  checks.push({
    name: 'snippets directory',
    ok: writable,
    detail: !dir
      ? 'platforms.proxmox.snippetsDir is not set: user data cannot be delivered'
      : writable
        ? `${dir} (${c.snippetStorage}'s snippets/ as this host reaches it)`
        : `${dir} is not writable from this host`,
    affects: writable ? [] : uses.userData,
  });

  // The ownership tags (B-OPTS-1): any tag with Sys.Modify on /; otherwise user-tag-access must be free
  // (the run tag is new each run, and a clone's template tags are replaced) and none of ours registered.
  if (permissionsRead) {
    const root = held.get('/') ?? new Set<string>();
    const options = await read('ownership tags', uses.vm, () => api.get<Record<string, unknown>>('/cluster/options'));
    if (options) {
      const name = `ownership tags (${ownershipMarker}, vmc-run.<run id>)`;
      if (root.has('Sys.Modify')) checks.push({ name, ok: true, detail: 'Sys.Modify on / sets any tag', affects: [] });
      else if (root.has('Sys.Audit')) {
        const allow = userAllow(options['user-tag-access']);
        const registered = ((options['registered-tags'] as string[] | undefined) ?? []).filter(ours);
        const refusals = [
          ...(allow !== 'free' ? [`user-tag-access user-allow=${allow} refuses a new run tag`] : []),
          ...(registered.length ? [`registered-tags holds ${registered.join(', ')}`] : []),
        ];
        checks.push({
          name,
          ok: refusals.length === 0,
          detail: refusals.length
            ? `${refusals.join('; ')} (and the token lacks Sys.Modify on /): every create is refused`
            : 'user-tag-access user-allow=free, none of them registered',
          affects: refusals.length ? uses.vm : [],
        });
      } else
        checks.push({
          name,
          ok: false,
          detail:
            "unconfirmed: without Sys.Audit or Sys.Modify on / the tag policy (datacenter.cfg user-tag-access, registered-tags) is not readable; PVE's default (user-allow=free, none registered) allows them, anything else refuses every create",
          affects: [],
        });
    }
  }
  return checks;
}

/** The descriptor's hook: a client for the configured cluster, the checks, closed again. */
export async function preflightProxmox(
  config: ProxmoxConfig,
  lab: { image: string; network: string; network2: string },
): Promise<PreflightCheck[]> {
  const api = new ProxmoxClient({ ...config, transcript: new Transcript() });
  try {
    return await proxmoxPreflight(api, { ...config, ...lab });
  } finally {
    await api.close();
  }
}
