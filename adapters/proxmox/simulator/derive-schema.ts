/**
 * Derives the reduced Proxmox VE API schema the adapter and simulator use from the official api-viewer
 * data (pve-docs repository, api-viewer/apidata.js). Only the paths, methods and parameters listed
 * below are kept, descriptions dropped; a name the upstream schema lacks is an error, so the reduced
 * schema can never claim more than Proxmox publishes. The upstream file itself is never committed.
 *
 *   git -C <pve-docs> show <commit>:api-viewer/apidata.js > /tmp/apidata.js
 *   node --import tsx adapters/proxmox/simulator/derive-schema.ts /tmp/apidata.js <commit> <version> \
 *     [/tmp/apidata-7.4.js <7.4 commit> <7.4 version>]... > fixtures/proxmox/api-schema.json
 * Every further triple is another release (older or newer), recorded as its differences from the base.
 *   npx biome format --write fixtures/proxmox/api-schema.json
 */
import { readFileSync } from 'node:fs';

/** VM settings the adapter writes, at create (restore) and in config updates alike. */
const vmConfig = [
  'name',
  'cores',
  'memory',
  'net[n]',
  'virtio[n]',
  'ide[n]',
  'cicustom',
  'smbios1',
  'tags',
  'description',
  'agent',
  'bios',
];

/** method path -> the parameters the adapter sends (path parameters are always kept). */
export const used: Record<string, string[]> = {
  'GET /version': [],
  'GET /nodes/{node}/status': [],
  'GET /cluster/resources': ['type'],
  'GET /cluster/tasks': [],
  'GET /cluster/nextid': ['vmid'],
  'GET /nodes/{node}/network': ['type'],
  'GET /nodes/{node}/storage': ['content'],
  'GET /nodes/{node}/storage/{storage}/content': ['content', 'vmid'],
  'DELETE /nodes/{node}/storage/{storage}/content/{volume}': [],
  'GET /nodes/{node}/tasks': ['vmid', 'limit', 'source'],
  'GET /nodes/{node}/tasks/{upid}/status': [],
  'GET /nodes/{node}/tasks/{upid}/log': ['start', 'limit'],
  'POST /nodes/{node}/qemu': ['vmid', 'archive', 'storage', 'unique', 'pool', ...vmConfig],
  'DELETE /nodes/{node}/qemu/{vmid}': ['purge', 'destroy-unreferenced-disks'],
  'GET /nodes/{node}/qemu': ['full'],
  'GET /nodes/{node}/qemu/{vmid}/config': ['current'],
  'POST /nodes/{node}/qemu/{vmid}/config': ['delete', 'digest', ...vmConfig],
  'POST /nodes/{node}/qemu/{vmid}/clone': ['newid', 'name', 'full', 'pool', 'target', 'storage'],
  'PUT /nodes/{node}/qemu/{vmid}/resize': ['disk', 'size'],
  'POST /nodes/{node}/qemu/{vmid}/move_disk': ['disk', 'target-vmid', 'target-disk'],
  'GET /nodes/{node}/qemu/{vmid}/status/current': [],
  'POST /nodes/{node}/qemu/{vmid}/status/start': [],
  'POST /nodes/{node}/qemu/{vmid}/status/stop': [],
  'POST /nodes/{node}/qemu/{vmid}/status/shutdown': ['timeout', 'forceStop'],
  'POST /nodes/{node}/qemu/{vmid}/status/reboot': ['timeout'],
  'GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces': [],
  'GET /nodes/{node}/qemu/{vmid}/agent/file-read': ['file'],
  'POST /nodes/{node}/vzdump': ['vmid', 'storage', 'mode', 'compress', 'notes-template'],
  // What `vmconform preflight -p proxmox` reads: the token's privileges per path, the tag policy.
  'GET /access/permissions': ['path'],
  'GET /cluster/options': [],
};

type Json = Record<string, unknown>;

/** Keeps what validation needs: type, optional, enum, bounds, pattern, format (names, or sub-keys of a property string). */
function reduceProp(p: Json): Json {
  const out: Json = {};
  for (const k of ['type', 'optional', 'enum', 'minimum', 'maximum', 'pattern', 'maxLength', 'default_key', 'alias'])
    if (p[k] !== undefined) out[k] = p[k];
  if (typeof p.format === 'string') out.format = p.format;
  else if (p.format && typeof p.format === 'object')
    out.format = Object.fromEntries(Object.entries(p.format as Json).map(([k, v]) => [k, reduceProp(v as Json)]));
  if (p.items) out.items = reduceProp(p.items as Json);
  if (p.properties) out.properties = reduceProps(p.properties as Json);
  if (p.additionalProperties !== undefined) out.additionalProperties = p.additionalProperties;
  return out;
}

const reduceProps = (props: Json) =>
  Object.fromEntries(Object.entries(props).map(([k, v]) => [k, reduceProp(v as Json)]));

/** The same reduction without failing on what an older release lacks (it is recorded as a difference instead). */
export const deriveLenient = (apidataText: string): Json =>
  derive(apidataText, { repo: '', commit: '', version: '' }, false);

export function derive(
  apidataText: string,
  source: { repo: string; commit: string; version: string },
  strict = true,
): Json {
  const json = JSON.parse(apidataText.slice(apidataText.indexOf('['), apidataText.lastIndexOf(']') + 1)) as Json[];
  const index = new Map<string, Json>();
  const walk = (n: Json) => {
    if (n.info) index.set(n.path as string, n.info as Json);
    for (const c of (n.children as Json[] | undefined) ?? []) walk(c);
  };
  json.forEach(walk);
  const endpoints: Json = {};
  for (const [key, names] of Object.entries(used)) {
    const [method = '', path = ''] = key.split(' ');
    const info = index.get(path)?.[method] as Json | undefined;
    if (!info) {
      if (strict) throw new Error(`${key}: not in the upstream schema`);
      continue;
    }
    const params = (info.parameters as Json | undefined)?.properties as Json | undefined;
    const pathParams = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);
    const keep: Json = {};
    for (const n of [...pathParams, ...names]) {
      const p = params?.[n];
      if (!p) {
        if (strict) throw new Error(`${key}: parameter ${n} is not in the upstream schema`);
        continue;
      }
      keep[n] = reduceProp(p as Json);
    }
    endpoints[key] = {
      parameters: keep,
      returns: info.returns ? reduceProp(info.returns as Json) : { type: 'null' },
      ...(info.protected ? { protected: 1 } : {}),
    };
  }
  return {
    source: { ...source, file: 'api-viewer/apidata.js' },
    note: 'Reduced by adapters/proxmox/simulator/derive-schema.ts: only what the vmconform adapter uses. Do not edit by hand.',
    endpoints,
  };
}

/**
 * What another release's schema (older or newer) says differently about the same endpoints: return
 * shapes, parameters it lacks, and parameters it defines differently (format, pattern, bounds). The
 * simulator answers and validates requests as that release when started with its version.
 */
export function differences(base: Json, older: Json): Json {
  const out: Json = {};
  const b = base.endpoints as Record<string, { parameters: Json; returns: Json }>;
  const o = older.endpoints as Record<string, { parameters: Json; returns: Json }>;
  for (const [key, e] of Object.entries(b)) {
    const old = o[key];
    if (!old) continue;
    const missing = Object.keys(e.parameters).filter((n) => !(n in old.parameters));
    const changed = Object.fromEntries(
      Object.entries(e.parameters)
        .filter(([n, d]) => n in old.parameters && JSON.stringify(old.parameters[n]) !== JSON.stringify(d))
        .map(([n]) => [n, old.parameters[n]]),
    );
    const returns = JSON.stringify(old.returns) !== JSON.stringify(e.returns);
    if (returns || missing.length > 0 || Object.keys(changed).length > 0)
      out[key] = {
        ...(returns ? { returns: old.returns } : {}),
        ...(missing.length > 0 ? { missingParameters: missing } : {}),
        ...(Object.keys(changed).length > 0 ? { parameters: changed } : {}),
      };
  }
  return out;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1])) {
  // <apidata.js> <commit> <version> [<other apidata.js> <other commit> <other version>]...
  const [file, commit, version, ...others] = process.argv.slice(2);
  if (!file || !commit || !version || others.length % 3 !== 0) {
    process.stderr.write(
      'usage: adapters/proxmox/simulator/derive-schema.ts <apidata.js> <pve-docs commit> <PVE version> [<other apidata.js> <commit> <version>]...\n',
    );
    process.exit(2);
  }
  const repo = 'https://github.com/proxmox/pve-docs';
  const out = derive(readFileSync(file, 'utf8'), { repo, commit, version });
  const releases: Json = {};
  for (let i = 0; i < others.length; i += 3) {
    const [f = '', c = '', v = ''] = others.slice(i, i + 3);
    // Another release may lack endpoints or parameters the adapter uses: derive leniently, record what differs.
    releases[v] = { commit: c, differences: differences(out, deriveLenient(readFileSync(f, 'utf8'))) };
  }
  if (others.length > 0) out.otherReleases = releases;
  process.stdout.write(`${JSON.stringify(out, null, 1)}\n`);
}
