/**
 * Inventory export and reconciliation (INV-02). The export is a documented, versioned JSON shape
 * (`vmconform.inventory/v1`) built from the driver contract only, so every platform exports the same
 * way; reconcile compares a system-of-record snapshot with what the platform holds now. Pure apart
 * from exportInventory.
 */
import type { Driver, HostCapacity, Placement, PowerState } from '../adapters/contract/index.js';
import { ConfigInvalid, NotFound } from '../evidence/errors.js';

export const inventorySchema = 'vmconform.inventory/v1';

export interface InventoryHost {
  id: string;
  name: string;
  site?: string;
  failureDomain?: string;
  capacity: Pick<HostCapacity, 'cpus' | 'memoryBytes'>;
}

export interface InventoryVm {
  /** The platform's durable VM id. */
  id: string;
  name: string;
  /** Host id where the VM is placed, when the platform says (or the endpoint has one host). */
  host?: string;
  power: PowerState;
  vcpus: number;
  memoryMiB: number;
  firmware?: 'bios' | 'uefi';
  /** Tenant/project/environment and external ids, verbatim. */
  metadata: Record<string, string>;
  placement: Placement;
  /** Run id of the vmconform run that created it, if any. */
  ownerRun?: string;
  disks: { target: string; serial: string; volumeId: string }[];
}

export interface InventoryVolume {
  id: string;
  name: string;
  sizeBytes: number;
  format: string;
  backing?: string;
  attachedTo: string[];
}

export interface InventoryNic {
  /** `<vm id>/<mac>`: a NIC is durable as long as its VM and MAC are. */
  id: string;
  vm: string;
  mac: string;
  network: string;
  external: boolean;
  index: number;
}

export interface Inventory {
  schema: typeof inventorySchema;
  platform: string;
  endpoint: string;
  exportedAt: string;
  /** What was exported: everything, or only one run's objects. */
  scope: { owner?: string };
  hosts: InventoryHost[];
  vms: InventoryVm[];
  volumes: InventoryVolume[];
  nics: InventoryNic[];
}

export type InventoryKind = 'host' | 'vm' | 'volume' | 'nic';

export interface ObjectRef {
  kind: InventoryKind;
  id: string;
  name: string;
}

export interface Drift extends ObjectRef {
  field: string;
  expected: unknown;
  actual: unknown;
}

export interface ReconcileReport {
  missing: ObjectRef[];
  unexpected: ObjectRef[];
  drifted: Drift[];
  clean: boolean;
}

/** Reads hosts, VMs (with disks and NICs) and volumes through the driver; `owner` limits it to one run. */
export async function exportInventory(driver: Driver, scope: { owner?: string } = {}): Promise<Inventory> {
  const [info, hosts] = await Promise.all([driver.platformInfo(), driver.hosts()]);
  const vms: InventoryVm[] = [];
  const nics: InventoryNic[] = [];
  for (const ref of await driver.list(scope.owner ? { owner: scope.owner } : {})) {
    // A VM deleted between list and inspect is simply not in the snapshot.
    const s = await driver.inspect(ref).catch((e) => (e instanceof NotFound ? undefined : Promise.reject(e)));
    if (!s) continue;
    const host = s.config.placement.host ?? (hosts.length === 1 ? hosts[0]?.id : undefined);
    vms.push({
      id: s.ref.id,
      name: s.ref.name,
      ...(host ? { host } : {}),
      power: s.power,
      vcpus: s.config.vcpus,
      memoryMiB: s.config.memoryMiB,
      ...(s.config.firmware ? { firmware: s.config.firmware } : {}),
      metadata: s.config.metadata,
      placement: s.config.placement,
      ...(s.config.owner ? { ownerRun: s.config.owner.runId } : {}),
      disks: s.config.disks.map((d) => ({ target: d.target, serial: d.serial, volumeId: d.volumeId })),
    });
    for (const n of s.config.nics) {
      nics.push({
        id: `${s.ref.id}/${n.mac}`,
        vm: s.ref.id,
        mac: n.mac,
        network: n.network,
        external: n.external,
        index: n.index,
      });
    }
  }
  const vmIds = new Set(vms.map((v) => v.id));
  const volumes = (await driver.volumes())
    .filter(
      (v) =>
        !scope.owner ||
        v.attachedTo.some((id) => vmIds.has(id)) ||
        v.owner?.runId === scope.owner ||
        // Everything the harness creates is named vmc-<run id>-...
        v.name.startsWith(`vmc-${scope.owner}-`),
    )
    .map((v) => ({
      id: v.id,
      name: v.name,
      sizeBytes: v.sizeBytes,
      format: v.format,
      ...(v.backing ? { backing: v.backing } : {}),
      attachedTo: [...v.attachedTo].sort(),
    }));
  return {
    schema: inventorySchema,
    platform: info.platform,
    endpoint: info.endpoint,
    exportedAt: new Date().toISOString(),
    scope: scope.owner ? { owner: scope.owner } : {},
    hosts: hosts.map((h) => ({
      id: h.id,
      name: h.name,
      ...(h.site ? { site: h.site } : {}),
      ...(h.failureDomain ? { failureDomain: h.failureDomain } : {}),
      capacity: { cpus: h.capacity.cpus, memoryBytes: h.capacity.memoryBytes },
    })),
    vms,
    volumes,
    nics,
  };
}

/** Validates a system-of-record file; errors name the file and what is wrong (exit 2). */
export function parseInventory(text: string, file: string): Inventory {
  let doc: Partial<Inventory>;
  try {
    doc = JSON.parse(text) as Partial<Inventory>;
  } catch (e) {
    throw new ConfigInvalid(`${file}: not JSON (${(e as Error).message})`);
  }
  if (doc.schema !== inventorySchema)
    throw new ConfigInvalid(`${file}: schema: expected '${inventorySchema}', got ${JSON.stringify(doc.schema)}`);
  for (const k of ['hosts', 'vms', 'volumes', 'nics'] as const) {
    if (!Array.isArray(doc[k])) throw new ConfigInvalid(`${file}: ${k}: expected an array`);
    for (const [i, o] of (doc[k] as { id?: unknown }[]).entries()) {
      if (typeof o?.id !== 'string' || o.id === '')
        throw new ConfigInvalid(`${file}: ${k}[${i}].id: expected a non-empty string`);
    }
  }
  return doc as Inventory;
}

/** Fields compared per kind: identity is the id; everything here is state or placement that may drift. */
const compared: { [K in InventoryKind]: string[] } = {
  host: ['name', 'site', 'failureDomain', 'capacity'],
  vm: ['name', 'host', 'power', 'vcpus', 'memoryMiB', 'firmware', 'metadata', 'placement', 'disks'],
  volume: ['name', 'sizeBytes', 'format', 'backing', 'attachedTo'],
  nic: ['vm', 'mac', 'network', 'external', 'index'],
};

/** Key order must not count as drift: compare canonical JSON. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : x,
  );
}

export function reconcile(record: Inventory, current: Inventory): ReconcileReport {
  const missing: ObjectRef[] = [];
  const unexpected: ObjectRef[] = [];
  const drifted: Drift[] = [];
  const kinds: [InventoryKind, keyof Pick<Inventory, 'hosts' | 'vms' | 'volumes' | 'nics'>][] = [
    ['host', 'hosts'],
    ['vm', 'vms'],
    ['volume', 'volumes'],
    ['nic', 'nics'],
  ];
  for (const [kind, key] of kinds) {
    const want = new Map(record[key].map((o) => [o.id, o as unknown as Record<string, unknown>]));
    const have = new Map(current[key].map((o) => [o.id, o as unknown as Record<string, unknown>]));
    const nameOf = (o: Record<string, unknown>) => String(o.name ?? o.mac ?? o.id);
    for (const [id, w] of want) {
      const h = have.get(id);
      if (!h) {
        missing.push({ kind, id, name: nameOf(w) });
        continue;
      }
      for (const field of compared[kind]) {
        if (canonical(w[field]) !== canonical(h[field]))
          drifted.push({ kind, id, name: nameOf(w), field, expected: w[field], actual: h[field] });
      }
    }
    for (const [id, h] of have) if (!want.has(id)) unexpected.push({ kind, id, name: nameOf(h) });
  }
  return { missing, unexpected, drifted, clean: missing.length + unexpected.length + drifted.length === 0 };
}

/** One line per finding, for the CLI. */
export function describeReport(r: ReconcileReport): string[] {
  const show = (v: unknown) => (v === undefined ? '(none)' : JSON.stringify(v));
  return [
    ...r.missing.map((m) => `missing     ${m.kind} ${m.name} (${m.id})`),
    ...r.unexpected.map((u) => `unexpected  ${u.kind} ${u.name} (${u.id})`),
    ...r.drifted.map(
      (d) => `drifted     ${d.kind} ${d.name} (${d.id}) ${d.field}: ${show(d.expected)} -> ${show(d.actual)}`,
    ),
    `${r.missing.length} missing, ${r.unexpected.length} unexpected, ${r.drifted.length} drifted${r.clean ? ': in step' : ''}`,
  ];
}
