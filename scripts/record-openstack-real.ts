/**
 * Records payloads from a real OpenStack (the lab's all-in-one Zed cloud) into
 * adapters/openstack/fixtures/real-*.json: version documents (the 300 Multiple Choices roots
 * included, with their status), the catalog, servers, volumes, instance actions, a fault, paged
 * lists, zones, services, aggregates, diagnostics with the domain's disk order, console logs across a
 * stop/start, and the 403 bodies a member-role credential gets. Raw fetch, not the adapter: the
 * fixtures show what the services answer, whatever the adapter makes of it.
 * Everything it creates is named vmc-osrec-* (a project, a member user, images, flavors, volumes,
 * servers) and deleted at the end. Take the cloud lock around it:
 *   flock /tmp/vmconform-lab-openstack.lock npx tsx scripts/record-openstack-fixtures.ts --real
 * Env: OS_AUTH_URL (default http://127.0.0.1:25000/v3), OS_PASSWORD_FILE (admin password), OSREAL_DIR.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from '../run/vitest-run.js';

const dir = join(repoRoot, 'adapters/openstack/fixtures');
const osreal = process.env.OSREAL_DIR ?? '/var/lib/vmconform/openstack-real';
const authUrl = process.env.OS_AUTH_URL ?? 'http://127.0.0.1:25000/v3';
const adminPw = readFileSync(process.env.OS_PASSWORD_FILE ?? join(osreal, 'secret'), 'utf8').trim();
const P = 'vmc-osrec';
const secrets: string[] = [adminPw];

interface Rec {
  status: number;
  headers?: Record<string, string>;
  body: unknown;
}
const scrub = (s: string) => secrets.reduce((a, x) => a.split(x).join('<redacted>'), s);
async function save(name: string, rec: Rec | unknown): Promise<void> {
  await writeFile(join(dir, `real-${name}.json`), `${scrub(JSON.stringify(rec, null, 2))}\n`);
}

async function token(user: string, pw: string, project: string): Promise<{ token: string; body: unknown }> {
  const r = await fetch(`${authUrl}/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: user, domain: { name: 'Default' }, password: pw } },
        },
        scope: { project: { name: project, domain: { name: 'Default' } } },
      },
    }),
  });
  const t = r.headers.get('x-subject-token');
  if (!t) throw new Error(`no token for ${user}: HTTP ${r.status} ${await r.text()}`);
  secrets.push(t);
  return { token: t, body: await r.json() };
}

const admin = await token('admin', adminPw, 'admin');
type Cat = { type: string; endpoints: { interface: string; url: string }[] }[];
const catalog = (admin.body as { token: { catalog: Cat } }).token.catalog;
const ep = (type: string) =>
  catalog
    .find((s) => s.type === type)
    ?.endpoints.find((e) => e.interface === 'public')
    ?.url.replace(/\/$/, '') ?? '';
const url = {
  compute: ep('compute'),
  volume: ep('block-storage') || ep('volumev3'),
  image: ep('image'),
  network: ep('network'),
  placement: ep('placement'),
  identity: authUrl,
};
const mvh: Record<string, Record<string, string>> = {
  compute: { 'openstack-api-version': 'compute 2.93' },
  volume: { 'openstack-api-version': 'volume 3.70' },
  placement: { 'openstack-api-version': 'placement 1.39' },
};

/** JSON when it is, else the text (Glance's and some roots' HTML errors). */
function parse(text: string): unknown {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return text;
  }
}

const projectOf: Record<string, string> = {};
async function call(
  tok: string,
  svc: keyof typeof url,
  method: string,
  path: string,
  json?: unknown,
  extra: Record<string, string> = {},
): Promise<Rec> {
  // Cinder's URL carries the project id: another credential's calls go to its own project's URL (a
  // foreign one answers 400 "Malformed request url").
  const base =
    svc === 'volume' && projectOf[tok] ? url.volume.replace(/\/v3\/[0-9a-f]+$/, `/v3/${projectOf[tok]}`) : url[svc];
  const r = await fetch(`${base}${path}`, {
    method,
    headers: {
      'x-auth-token': tok,
      ...(json !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(mvh[svc] ?? {}),
      ...extra,
    },
    ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
  });
  return { status: r.status, body: parse(await r.text()) };
}
const A = (svc: keyof typeof url, method: string, path: string, json?: unknown) =>
  call(admin.token, svc, method, path, json);
const ok = async (p: Promise<Rec>, what: string): Promise<Rec> => {
  const r = await p;
  if (r.status >= 400) throw new Error(`${what}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 400)}`);
  return r;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, fn: () => Promise<T | undefined>, s = 240): Promise<T> {
  for (let i = 0; i < s; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await sleep(1000);
  }
  throw new Error(`timed out waiting for ${what}`);
}
type Server = { id: string; status: string; 'OS-EXT-STS:task_state'?: string | null };
const serverIs = (id: string, st: string) =>
  until(`${id} ${st}`, async () => {
    const s = (await A('compute', 'GET', `/servers/${id}`)).body as { server: Server };
    if (s.server.status === st && !s.server['OS-EXT-STS:task_state']) return s.server;
    if (s.server.status === 'ERROR' && st !== 'ERROR') throw new Error(`${id} went to ERROR`);
    return undefined;
  });
const volumeIs = (id: string, st: string) =>
  until(`${id} ${st}`, async () => {
    const v = (await A('volume', 'GET', `/volumes/${id}`)).body as { volume: { status: string } };
    return v.volume.status === st ? v : undefined;
  });
// Detaching follows the server's delete: wait until the volume is free (or gone) before deleting it.
const dropVolume = async (id: string) => {
  await until(`${id} free`, async () => {
    const r = await A('volume', 'GET', `/volumes/${id}`);
    const st = (r.body as { volume?: { status: string } }).volume?.status;
    return r.status === 404 || st === 'available' || st?.startsWith('error') ? true : undefined;
  });
  return A('volume', 'DELETE', `/volumes/${id}`);
};
const virsh = (...a: string[]) =>
  execFileSync('virsh', ['-c', `qemu:///system?socket=${osreal}/libvirt/run/libvirt-sock`, ...a], {
    encoding: 'utf8',
  });

await mkdir(dir, { recursive: true });
const cleanup: (() => Promise<unknown>)[] = [];
try {
  // ---- versions, catalog --------------------------------------------------------------------------
  const roots = {
    'volume-root': url.volume.replace(/\/v3(\/.*)?$/, '/'),
    'image-root': `${url.image}/`,
    'compute-root': url.compute.replace(/\/v2(\.1)?(\/.*)?$/, '/'),
    'compute-v2.1': url.compute,
    'placement-root': `${url.placement}/`,
    'network-root': `${url.network}/`,
  };
  for (const [name, u] of Object.entries(roots)) {
    const r = await fetch(u);
    await save(`versions-${name}`, {
      status: r.status,
      url: u.replace(/^https?:\/\/[^/]+/, ''),
      body: parse(await r.text()),
    });
  }
  const v3 = await fetch(`${url.volume}/`, { headers: { 'x-auth-token': admin.token } });
  await save('versions-volume-v3', { status: v3.status, body: parse(await v3.text()) });
  await save('token-admin', { status: 201, body: admin.body });

  // ---- a project and a member-role user of our own ------------------------------------------------
  const roles = (await A('identity', 'GET', '/roles')).body as { roles: { id: string; name: string }[] };
  const memberRole = roles.roles.find((r) => r.name === 'member')?.id;
  const proj = await ok(
    A('identity', 'POST', '/projects', { project: { name: `${P}-project`, domain_id: 'default', tags: [P] } }),
    'project',
  );
  const projectId = (proj.body as { project: { id: string } }).project.id;
  cleanup.push(() => A('identity', 'DELETE', `/projects/${projectId}`));
  const memberPw = randomBytes(12).toString('hex');
  secrets.push(memberPw);
  const user = await ok(
    A('identity', 'POST', '/users', {
      user: { name: `${P}-member`, domain_id: 'default', password: memberPw, default_project_id: projectId },
    }),
    'user',
  );
  const userId = (user.body as { user: { id: string } }).user.id;
  cleanup.push(() => A('identity', 'DELETE', `/users/${userId}`));
  await ok(A('identity', 'PUT', `/projects/${projectId}/users/${userId}/roles/${memberRole}`), 'role');
  const member = await token(`${P}-member`, memberPw, `${P}-project`);
  projectOf[member.token] = projectId;
  await save('token-member', { status: 201, body: member.body });

  // ---- images (the libvirt lab's guest, direct kernel boot), flavors ------------------------------
  const g = join('/var/lib/vmconform/guest', readdirSync('/var/lib/vmconform/guest')[0] as string);
  const upload = async (name: string, file: string, fmt: string, props: Record<string, string> = {}) => {
    const c = fmt === 'raw' ? 'bare' : fmt;
    const r = await ok(
      A('image', 'POST', '/v2/images', {
        name,
        disk_format: fmt,
        container_format: c,
        visibility: 'public',
        tags: [P],
        ...props,
      }),
      `image ${name}`,
    );
    const id = (r.body as { id: string }).id;
    cleanup.push(() => A('image', 'DELETE', `/v2/images/${id}`));
    const put = await fetch(`${url.image}/v2/images/${id}/file`, {
      method: 'PUT',
      headers: { 'x-auth-token': admin.token, 'content-type': 'application/octet-stream' },
      body: readFileSync(join(g, file)),
    });
    if (put.status >= 300) throw new Error(`upload ${name}: ${put.status}`);
    return id;
  };
  const k = await upload(`${P}-kernel`, 'vmlinuz', 'aki');
  const rd = await upload(`${P}-initrd`, 'initrd.img', 'ari');
  const img = await upload(`${P}-base`, 'base.img', 'raw', {
    kernel_id: k,
    ramdisk_id: rd,
    os_command_line: 'console=ttyS0 quiet panic=-1',
  });
  const images1 = await A('image', 'GET', '/v2/images?limit=1');
  await save('images-page1', images1);
  const next = (images1.body as { next?: string }).next;
  if (next) await save('images-page2', await A('image', 'GET', next.replace(/^\/v2/, '/v2')));
  const flavor = async (name: string, vcpus: number, ram: number, disk: number) => {
    const r = await ok(A('compute', 'POST', '/flavors', { flavor: { name, vcpus, ram, disk } }), `flavor ${name}`);
    const id = (r.body as { flavor: { id: string } }).flavor.id;
    cleanup.push(() => A('compute', 'DELETE', `/flavors/${id}`));
    return id;
  };
  const tiny = await flavor(`${P}-tiny`, 1, 256, 1);
  // Above the project's RAM quota (403, not a policy refusal) and above what the host holds (NoValidHost).
  const overQuota = await flavor(`${P}-over-quota`, 1, 4_000_000, 1);
  const huge = await flavor(`${P}-huge`, 1, 49_000, 1);
  await save('flavors-page1', await A('compute', 'GET', '/flavors/detail?limit=1'));

  // ---- a data volume; a server booted from the image with it and a config drive --------------------
  const vol = await ok(
    A('volume', 'POST', '/volumes', { volume: { name: `${P}-data`, size: 1, metadata: { owner: P } } }),
    'volume',
  );
  const volId = (vol.body as { volume: { id: string } }).volume.id;
  cleanup.push(() => dropVolume(volId));
  await volumeIs(volId, 'available');
  const vol2 = await ok(A('volume', 'POST', '/volumes', { volume: { name: `${P}-data2`, size: 1 } }), 'volume2');
  const vol2Id = (vol2.body as { volume: { id: string } }).volume.id;
  cleanup.push(() => dropVolume(vol2Id));
  await volumeIs(vol2Id, 'available');
  await save('volumes-page1', await A('volume', 'GET', '/volumes/detail?limit=1'));
  await save('volume-error-404', await A('volume', 'GET', '/volumes/00000000-0000-0000-0000-000000000000'));
  await save('pools', await A('volume', 'GET', '/scheduler-stats/get_pools?detail=true'));

  const boot = async (name: string, bdm: unknown[], flavorRef: string, tok = admin.token) => {
    const r = await call(tok, 'compute', 'POST', '/servers', {
      server: {
        name,
        flavorRef,
        // Boot from image to a local disk takes the image from imageRef (an empty one fails in nova-compute
        // with ImageNotFound after scheduling); the BDM's uuid is not enough.
        imageRef: img,
        networks: 'none',
        config_drive: true,
        block_device_mapping_v2: bdm,
        metadata: { owner: P },
        tags: [P],
      },
    });
    if (r.status !== 202) throw new Error(`boot ${name}: ${r.status} ${JSON.stringify(r.body)}`);
    const id = (r.body as { server: { id: string } }).server.id;
    cleanup.unshift(async () => {
      await A('compute', 'DELETE', `/servers/${id}`);
      await until(`${id} gone`, async () =>
        (await A('compute', 'GET', `/servers/${id}`)).status === 404 ? true : undefined,
      );
    });
    return id;
  };
  const imageBdm = { boot_index: 0, source_type: 'image', destination_type: 'local', uuid: img, tag: 'boot' };
  const dataBdm = {
    boot_index: -1,
    source_type: 'volume',
    destination_type: 'volume',
    uuid: volId,
    tag: 'data1',
    delete_on_termination: false,
  };
  const sid = await boot(`${P}-image`, [imageBdm, dataBdm], tiny);
  await serverIs(sid, 'ACTIVE');
  await save('server-active', await A('compute', 'GET', `/servers/${sid}`));
  await save('servers-page1', await A('compute', 'GET', '/servers/detail?limit=1'));
  await save('volume-attachments', await A('compute', 'GET', `/servers/${sid}/os-volume_attachments`));
  await save('diagnostics', await A('compute', 'GET', `/servers/${sid}/diagnostics`));
  const inst = ((await A('compute', 'GET', `/servers/${sid}`)).body as { server: Record<string, string> }).server[
    'OS-EXT-SRV-ATTR:instance_name'
  ] as string;
  const xml = virsh('dumpxml', inst);
  await save('domain-disks', {
    note: 'the <disk> elements of the domain behind real-server-active, in XML order (virsh dumpxml)',
    disks: [...xml.matchAll(/<disk [^>]*>[\s\S]*?<\/disk>/g)].map((m) => ({
      device: /device='(\w+)'/.exec(m[0])?.[1],
      target: /<target dev='(\w+)' bus='(\w+)'/.exec(m[0])?.slice(1),
      source: /<source (?:file|name)='([^']+)'/.exec(m[0])?.[1]?.replace(/.*\//, ''),
    })),
  });
  // Attach a second volume while running: where does it land in the domain and in diagnostics?
  await ok(
    A('compute', 'POST', `/servers/${sid}/os-volume_attachments`, { volumeAttachment: { volumeId: vol2Id } }),
    'attach',
  );
  await volumeIs(vol2Id, 'in-use');
  await save('volume-attachments-2', await A('compute', 'GET', `/servers/${sid}/os-volume_attachments`));
  await save('diagnostics-2', await A('compute', 'GET', `/servers/${sid}/diagnostics`));
  const xml2 = virsh('dumpxml', inst);
  await save('domain-disks-2', {
    note: 'after attaching real-volume-attachments-2 second volume, in XML order',
    disks: [...xml2.matchAll(/<disk [^>]*>[\s\S]*?<\/disk>/g)].map((m) => ({
      device: /device='(\w+)'/.exec(m[0])?.[1],
      target: /<target dev='(\w+)' bus='(\w+)'/.exec(m[0])?.slice(1),
      source: /<source (?:file|name)='([^']+)'/.exec(m[0])?.[1]?.replace(/.*\//, ''),
    })),
  });
  await until('READY on console', async () => {
    const c = (await A('compute', 'POST', `/servers/${sid}/action`, { 'os-getConsoleOutput': { length: null } }))
      .body as { output: string };
    return /VMC READY/.test(c.output) ? c : undefined;
  });
  await save(
    'console-first-boot',
    await A('compute', 'POST', `/servers/${sid}/action`, { 'os-getConsoleOutput': { length: null } }),
  );
  await ok(A('compute', 'POST', `/servers/${sid}/action`, { 'os-stop': null }), 'stop');
  await serverIs(sid, 'SHUTOFF');
  await save('server-shutoff', await A('compute', 'GET', `/servers/${sid}`));
  await save(
    'console-stopped',
    await A('compute', 'POST', `/servers/${sid}/action`, { 'os-getConsoleOutput': { length: null } }),
  );
  await save('error-start-conflict', await A('compute', 'POST', `/servers/${sid}/action`, { 'os-stop': null }));
  await ok(A('compute', 'POST', `/servers/${sid}/action`, { 'os-start': null }), 'start');
  await serverIs(sid, 'ACTIVE');
  await save(
    'console-after-start',
    await A('compute', 'POST', `/servers/${sid}/action`, { 'os-getConsoleOutput': { length: null } }),
  );
  // Resize to a flavor no host can hold: NoValidHost, recorded in the instance action, server stays ACTIVE.
  await save('error-quota', await A('compute', 'POST', `/servers/${sid}/action`, { resize: { flavorRef: overQuota } }));
  await ok(A('compute', 'POST', `/servers/${sid}/action`, { resize: { flavorRef: huge } }), 'resize');
  await until('resize to fail', async () => {
    const s = (await A('compute', 'GET', `/servers/${sid}`)).body as { server: Server };
    return s.server['OS-EXT-STS:task_state'] ? undefined : true;
  });
  await sleep(2000);
  await save('server-after-failed-resize', await A('compute', 'GET', `/servers/${sid}`));
  const acts = await A('compute', 'GET', `/servers/${sid}/os-instance-actions`);
  await save('instance-actions', acts);
  for (const a of (acts.body as { instanceActions: { action: string; request_id: string }[] }).instanceActions)
    if (a.action === 'resize' || a.action === 'create')
      await save(
        `instance-action-${a.action}`,
        await A('compute', 'GET', `/servers/${sid}/os-instance-actions/${a.request_id}`),
      );
  // A server the scheduler cannot place: ERROR with a fault.
  const bad = await boot(`${P}-fault`, [imageBdm], huge);
  await serverIs(bad, 'ERROR');
  await save('server-error-fault', await A('compute', 'GET', `/servers/${bad}`));

  // ---- the rest of the admin reads ----------------------------------------------------------------
  await save('availability-zones', await A('compute', 'GET', '/os-availability-zone/detail'));
  await save('availability-zones-plain', await A('compute', 'GET', '/os-availability-zone'));
  await save('services', await A('compute', 'GET', '/os-services'));
  await save('aggregates', await A('compute', 'GET', '/os-aggregates'));
  const hyps = await A('compute', 'GET', '/os-hypervisors/detail');
  await save('hypervisors', hyps);
  const rp = (hyps.body as { hypervisors: { id: string }[] }).hypervisors[0]?.id;
  await save('placement-inventories', await A('placement', 'GET', `/resource_providers/${rp}/inventories`));
  await save('placement-usages', await A('placement', 'GET', `/resource_providers/${rp}/usages`));
  await save('networks-page1', await A('network', 'GET', '/v2.0/networks?limit=1'));
  await save('error-nova-404', await A('compute', 'GET', '/servers/00000000-0000-0000-0000-000000000000'));
  await save('error-neutron-404', await A('network', 'GET', '/v2.0/networks/00000000-0000-0000-0000-000000000000'));
  await save('error-glance-404', await A('image', 'GET', '/v2/images/00000000-0000-0000-0000-000000000000'));
  await save(
    'error-placement-404',
    await A('placement', 'GET', '/resource_providers/00000000-0000-0000-0000-000000000000'),
  );

  // ---- what the member role may not do (every call here is refused before it acts) -----------------
  const M = (svc: keyof typeof url, method: string, path: string, json?: unknown) =>
    call(member.token, svc, method, path, json);
  const msid = await boot(`${P}-member`, [imageBdm], tiny, member.token);
  const denied: Record<string, Rec> = {
    'flavor-create': await M('compute', 'POST', '/flavors', {
      flavor: { name: `${P}-denied`, vcpus: 1, ram: 64, disk: 0 },
    }),
    hypervisors: await M('compute', 'GET', '/os-hypervisors/detail'),
    aggregates: await M('compute', 'GET', '/os-aggregates'),
    'availability-zones-detail': await M('compute', 'GET', '/os-availability-zone/detail'),
    'availability-zones': await M('compute', 'GET', '/os-availability-zone'),
    services: await M('compute', 'GET', '/os-services'),
    diagnostics: await M('compute', 'GET', `/servers/${msid}/diagnostics`),
    'server-detail': await M('compute', 'GET', `/servers/${msid}`),
    'instance-actions': await M('compute', 'GET', `/servers/${msid}/os-instance-actions`),
    'placement-providers': await M('placement', 'GET', '/resource_providers'),
    'cinder-pools': await M('volume', 'GET', '/scheduler-stats/get_pools?detail=true'),
    'cinder-volumes': await M('volume', 'GET', '/volumes/detail'),
    'glance-images': await M('image', 'GET', '/v2/images?limit=1'),
    'neutron-networks': await M('network', 'GET', '/v2.0/networks'),
    flavors: await M('compute', 'GET', '/flavors/detail?limit=1'),
  };
  for (const [name, r] of Object.entries(denied)) await save(`member-${name}`, r);
} finally {
  for (const c of cleanup) await c().catch((e) => console.error(`cleanup: ${e}`));
}
console.log(`recorded real fixtures into ${dir}`);
