/** Simulated Keystone v3, Glance v2, Neutron v2.0, Cinder v3 and Placement, plus the router over all six. */
import { createHash, randomUUID } from 'node:crypto';
import { truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type SimCloud, sparseCopy } from './cloud.js';
import { compute } from './compute.js';
import { type Ctx, HttpError, type Reply } from './http.js';
import { GiB, type Image, now, type Volume } from './state.js';

const fail = (status: number, message: string, type?: string): never => {
  throw new HttpError(status, message, type);
};

function identity(sim: SimCloud, ctx: Ctx): Reply {
  const p = ctx.path.replace(/\/$/, '');
  const version = {
    id: 'v3.14',
    status: 'stable',
    updated: '2020-04-07T00:00:00Z',
    links: [{ rel: 'self', href: `${sim.base}/identity/v3/` }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
  };
  if (p === '/identity') return { status: 300, body: { versions: { values: [version] } } };
  if (p === '/identity/v3' && ctx.method === 'GET') return { status: 200, body: { version } };
  if (p === '/identity/v3/auth/tokens' && ctx.method === 'POST') {
    const auth = ctx.json<{ auth?: { identity?: Record<string, unknown> } }>().auth?.identity;
    const methods = (auth?.methods as string[] | undefined) ?? [];
    let ok = false;
    if (methods.includes('password')) {
      const u = (auth?.password as { user?: { name?: string; password?: string } } | undefined)?.user;
      ok = u?.name === 'admin' && u.password === sim.opts.password;
    } else if (methods.includes('application_credential')) {
      const ac = auth?.application_credential as { id?: string; name?: string; secret?: string } | undefined;
      ok = (ac?.id === 'vmconform-appcred' || ac?.name === 'vmconform') && ac.secret === sim.opts.password;
    }
    if (!ok) fail(401, 'The request you have made requires authentication.');
    const { token, expires } = sim.issueToken();
    const c = sim.cloud;
    return {
      status: 201,
      headers: { 'x-subject-token': token },
      body: {
        token: {
          methods,
          user: { domain: { id: 'default', name: 'Default' }, id: c.userId, name: 'admin', password_expires_at: null },
          audit_ids: [randomUUID().slice(0, 22)],
          expires_at: expires.replace('Z', '000Z'),
          issued_at: new Date().toISOString().replace('Z', '000Z'),
          project: { domain: { id: 'default', name: 'Default' }, id: c.projectId, name: 'admin' },
          is_domain: false,
          roles: [
            { id: createHash('md5').update('admin').digest('hex'), name: 'admin' },
            { id: createHash('md5').update('member').digest('hex'), name: 'member' },
          ],
          catalog: sim.catalog(),
        },
      },
    };
  }
  return fail(404, 'The resource could not be found.');
}

function imageView(i: Image): Record<string, unknown> {
  return {
    id: i.id,
    name: i.name,
    status: i.status,
    disk_format: i.diskFormat,
    container_format: i.containerFormat,
    size: i.size,
    virtual_size: null,
    checksum: i.checksum,
    os_hash_algo: i.hashAlgo,
    os_hash_value: i.hashValue,
    visibility: i.visibility,
    protected: i.protected,
    os_hidden: false,
    tags: i.tags,
    min_disk: 0,
    min_ram: 0,
    owner: null,
    created_at: i.created,
    updated_at: i.updated,
    self: `/v2/images/${i.id}`,
    file: `/v2/images/${i.id}/file`,
    schema: '/v2/schemas/image',
    ...i.properties,
  };
}

const imageCore = new Set([
  'id',
  'name',
  'status',
  'disk_format',
  'container_format',
  'visibility',
  'protected',
  'tags',
  'min_disk',
  'min_ram',
]);

async function image(sim: SimCloud, ctx: Ctx): Promise<Reply> {
  const c = sim.cloud;
  const p = ctx.path.replace(/^\/image/, '').replace(/\/$/, '');
  const m = ctx.method;
  // Glance's and Cinder's unversioned roots answer 300 Multiple Choices, as the real services do.
  if (p === '' || p === '/versions')
    return {
      status: p === '' ? 300 : 200,
      body: { versions: [{ id: 'v2.16', status: 'CURRENT', links: [{ rel: 'self', href: `${sim.base}/image/v2/` }] }] },
    };
  const [, v2, images, id, file] = p.split('/');
  if (v2 !== 'v2' || images !== 'images') return fail(404, 'The resource could not be found.');
  if (!id && m === 'GET') {
    let list = c.images;
    const name = ctx.query.get('name');
    if (name) list = list.filter((i) => i.name === name);
    for (const t of ctx.query.getAll('tag')) list = list.filter((i) => i.tags.includes(t));
    return { status: 200, body: { images: list.map(imageView), first: '/v2/images', schema: '/v2/schemas/images' } };
  }
  if (!id && m === 'POST') {
    const b = ctx.json<Record<string, unknown>>();
    const props: Record<string, string> = {};
    for (const [k, v] of Object.entries(b)) if (!imageCore.has(k)) props[k] = String(v);
    const img: Image = {
      id: typeof b.id === 'string' ? b.id : randomUUID(),
      name: String(b.name ?? ''),
      status: 'queued',
      diskFormat: String(b.disk_format ?? 'raw'),
      containerFormat: String(b.container_format ?? 'bare'),
      size: null,
      checksum: null,
      hashAlgo: null,
      hashValue: null,
      visibility: String(b.visibility ?? 'shared'),
      protected: b.protected === true,
      tags: (b.tags as string[]) ?? [],
      properties: props,
      created: now(),
      updated: now(),
      file: null,
    };
    c.images.push(img);
    return { status: 201, body: imageView(img) };
  }
  const img = c.images.find((i) => i.id === id) ?? fail(404, `No image found with ID ${id}`);
  if (file === 'file' && m === 'PUT') {
    if (img.status !== 'queued') fail(409, `Image status transition from ${img.status} to saving is not allowed`);
    const path = join(sim.opts.stateDir, 'images', img.id);
    await writeFile(path, ctx.body);
    Object.assign(img, {
      file: path,
      size: ctx.body.length,
      checksum: createHash('md5').update(ctx.body).digest('hex'),
      hashAlgo: 'sha512',
      hashValue: createHash('sha512').update(ctx.body).digest('hex'),
      status: 'active',
      updated: now(),
    });
    return { status: 204 };
  }
  if (m === 'GET' && !file) return { status: 200, body: imageView(img) };
  if (m === 'PATCH') {
    // application/openstack-images-v2.1-json-patch
    const ops = JSON.parse(ctx.body.toString()) as { op: string; path: string; value?: unknown }[];
    for (const o of ops) {
      const key = o.path.replace(/^\//, '');
      if (key === 'protected') img.protected = o.value === true;
      else if (key === 'name') img.name = String(o.value);
      else if (key === 'visibility') img.visibility = String(o.value);
      else if (key === 'tags') img.tags = o.value as string[];
      else if (o.op === 'remove') delete img.properties[key];
      else img.properties[key] = String(o.value);
    }
    img.updated = now();
    return { status: 200, body: imageView(img) };
  }
  if (m === 'DELETE') {
    if (img.protected) fail(403, `Image ${img.id} is protected and cannot be deleted.`);
    if (sim.cloud.servers.some((s) => s.imageId === img.id)) fail(409, `Image ${img.id} is in use.`);
    c.images = c.images.filter((i) => i !== img);
    await sim.removeFile(img.file);
    return { status: 204 };
  }
  return fail(404, 'The resource could not be found.');
}

function network(sim: SimCloud, ctx: Ctx): Reply {
  const c = sim.cloud;
  const p = ctx.path.replace(/^\/network/, '').replace(/\/$/, '');
  const m = ctx.method;
  if (p === '')
    return {
      status: 200,
      body: {
        versions: [{ id: 'v2.0', status: 'CURRENT', links: [{ rel: 'self', href: `${sim.base}/network/v2.0/` }] }],
      },
    };
  const [, , kind, id] = p.split('/');
  const netView = (n: (typeof c.networks)[number]) => ({
    id: n.id,
    name: n.name,
    status: 'ACTIVE',
    admin_state_up: true,
    shared: false,
    subnets: [n.subnetId],
    mtu: 1500,
    'router:external': false,
    'provider:network_type': n.networkType,
    'provider:physical_network': n.physicalNetwork,
    'provider:segmentation_id': n.segmentationId,
    tenant_id: c.projectId,
    project_id: c.projectId,
    tags: [],
  });
  const portView = (x: (typeof c.ports)[number]) => ({
    id: x.id,
    name: x.name,
    network_id: x.networkId,
    mac_address: x.mac,
    fixed_ips: [{ subnet_id: c.networks.find((n) => n.id === x.networkId)?.subnetId, ip_address: x.ip }],
    device_id: x.deviceId,
    device_owner: x.deviceOwner,
    status: x.deviceId ? 'ACTIVE' : 'DOWN',
    admin_state_up: true,
    binding_host_id: x.deviceId ? c.hostName : '',
    'binding:vif_type': x.deviceId ? 'bridge' : 'unbound',
    project_id: c.projectId,
    created_at: x.created,
    tags: [],
  });
  if (kind === 'networks') {
    if (!id) {
      const name = ctx.query.get('name');
      return { status: 200, body: { networks: c.networks.filter((n) => !name || n.name === name).map(netView) } };
    }
    const n = c.networks.find((x) => x.id === id) ?? fail(404, `Network ${id} could not be found.`, 'NetworkNotFound');
    return { status: 200, body: { network: netView(n) } };
  }
  if (kind === 'ports') {
    if (!id && m === 'GET') {
      let list = c.ports;
      for (const k of ['device_id', 'mac_address', 'name', 'network_id'] as const) {
        const v = ctx.query.get(k);
        const field = { device_id: 'deviceId', mac_address: 'mac', name: 'name', network_id: 'networkId' }[
          k
        ] as 'deviceId';
        if (v !== null) list = list.filter((x) => x[field] === v);
      }
      return { status: 200, body: { ports: list.map(portView) } };
    }
    if (!id && m === 'POST') {
      const b = ctx.json<{ port?: { network_id?: string; mac_address?: string; name?: string } }>().port ?? {};
      const n =
        c.networks.find((x) => x.id === b.network_id) ??
        fail(404, `Network ${b.network_id} could not be found.`, 'NetworkNotFound');
      const mac = (b.mac_address ?? sim.newMac()).toLowerCase();
      if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(mac))
        fail(400, `Invalid input for mac_address. Reason: '${mac}' is not a valid MAC address.`, 'HTTPBadRequest');
      if (c.ports.some((x) => x.networkId === n.id && x.mac === mac))
        fail(
          409,
          `Unable to complete operation for network ${n.id}. The mac address ${mac} is in use.`,
          'MacAddressInUse',
        );
      const port = {
        id: randomUUID(),
        name: b.name ?? '',
        networkId: n.id,
        mac,
        ip: `${n.cidr.split('.').slice(0, 3).join('.')}.${10 + c.ports.length}`,
        deviceId: '',
        deviceOwner: '',
        created: now(),
      };
      c.ports.push(port);
      return { status: 201, body: { port: portView(port) } };
    }
    const port = c.ports.find((x) => x.id === id) ?? fail(404, `Port ${id} could not be found.`, 'PortNotFound');
    if (m === 'GET') return { status: 200, body: { port: portView(port) } };
    if (m === 'DELETE') {
      c.ports = c.ports.filter((x) => x !== port);
      for (const s of c.servers) s.ports = s.ports.filter((x) => x !== port.id);
      return { status: 204 };
    }
  }
  return fail(404, 'The resource could not be found.', 'HTTPNotFound');
}

function volumeView(sim: SimCloud, v: Volume): Record<string, unknown> {
  return {
    id: v.id,
    name: v.name,
    size: v.size,
    status: v.status,
    bootable: String(v.bootable),
    metadata: v.metadata,
    volume_type: 'lvm',
    availability_zone: 'nova',
    created_at: v.created,
    updated_at: now(),
    multiattach: false,
    encrypted: false,
    'os-vol-host-attr:host': sim.cloud.pool.name,
    'os-vol-tenant-attr:tenant_id': sim.cloud.projectId,
    ...(v.imageId
      ? {
          volume_image_metadata: {
            image_id: v.imageId,
            image_name: sim.cloud.images.find((i) => i.id === v.imageId)?.name ?? '',
            disk_format: 'raw',
          },
        }
      : {}),
    attachments: v.attachments.map((a) => ({
      id: v.id,
      attachment_id: a.attachmentId,
      volume_id: v.id,
      server_id: a.serverId,
      host_name: sim.cloud.hostName,
      device: a.device,
      attached_at: a.attachedAt,
    })),
  };
}

async function volume(sim: SimCloud, ctx: Ctx): Promise<Reply> {
  const c = sim.cloud;
  const m = ctx.method;
  const p = ctx.path.replace(/^\/volume/, '').replace(/\/$/, '');
  if (p === '' || p === '/v3')
    return {
      status: p === '' ? 300 : 200,
      body: {
        versions: [
          {
            id: 'v3.0',
            status: 'CURRENT',
            version: '3.70',
            min_version: '3.0',
            updated: '2023-08-31T00:00:00Z',
            links: [{ rel: 'self', href: `${sim.base}/volume/v3/` }],
          },
        ],
      },
    };
  const seg = p.split('/').filter(Boolean);
  if (seg[1] !== c.projectId) fail(404, `project ${seg[1]} not found`);
  const [kind, id, sub] = seg.slice(2);
  const used = () => c.volumes.reduce((a, v) => a + v.size, 0) + c.backups.reduce((a, b) => a + b.size, 0);
  if (kind === 'scheduler-stats' && id === 'get_pools') {
    const alloc = c.volumes.reduce((a, v) => a + v.size, 0);
    return {
      status: 200,
      body: {
        pools: [
          {
            name: c.pool.name,
            capabilities: {
              pool_name: 'lvm',
              volume_backend_name: 'lvm',
              vendor_name: 'Open Source',
              driver_version: '3.0.0',
              storage_protocol: 'iSCSI',
              total_capacity_gb: c.pool.totalGb,
              free_capacity_gb: c.pool.totalGb - alloc,
              allocated_capacity_gb: alloc,
              provisioned_capacity_gb: alloc,
              reserved_percentage: 0,
              thin_provisioning_support: true,
              thick_provisioning_support: false,
              max_over_subscription_ratio: '20.0',
              timestamp: now(),
            },
          },
        ],
      },
    };
  }
  if (kind === 'volumes') {
    if ((id === undefined || id === 'detail') && m === 'GET')
      return { status: 200, body: { volumes: c.volumes.map((v) => volumeView(sim, v)) } };
    if (id === undefined && m === 'POST') {
      const b =
        ctx.json<{
          volume?: {
            size?: number;
            name?: string;
            metadata?: Record<string, string>;
            backup_id?: string;
            imageRef?: string;
          };
        }>().volume ?? {};
      const backup = b.backup_id
        ? (c.backups.find((x) => x.id === b.backup_id) ?? fail(404, `Backup ${b.backup_id} could not be found.`))
        : undefined;
      const size = b.size ?? backup?.size;
      if (!Number.isInteger(size) || (size as number) < 1)
        fail(400, `Invalid input received: Volume size '${size}' must be an integer and greater than 0.`);
      if (backup && ctx.microversion < 47)
        fail(
          400,
          "Invalid input for field/attribute volume. Additional properties are not allowed ('backup_id' was unexpected)",
        );
      if (used() + (size as number) > c.pool.totalGb)
        fail(413, 'VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota.');
      const vid = randomUUID();
      const v: Volume = {
        id: vid,
        name: b.name ?? '',
        size: size as number,
        status: 'creating',
        metadata: b.metadata ?? {},
        imageId: null,
        bootable: false,
        created: now(),
        file: '',
        attachments: [],
      };
      c.volumes.push(v);
      sim.later(sim.opts.stepMs, async () => {
        v.file = await sim.createVolumeFile(vid, v.size, backup?.file);
        v.status = 'available';
      });
      return { status: 202, body: { volume: volumeView(sim, v) } };
    }
    const v = sim.volume(String(id));
    if (sub === 'action' && m === 'POST') {
      const b = ctx.json<{ 'os-extend'?: { new_size?: number } }>();
      const ext = b['os-extend'] ?? fail(400, 'There is no such action');
      const newSize = Number(ext.new_size);
      if (!(newSize > v.size))
        fail(
          400,
          `Invalid input received: New size for extend must be greater than current size. (current: ${v.size}, extended: ${newSize}).`,
        );
      if (v.status === 'in-use' && ctx.microversion < 42)
        fail(400, `Invalid volume: Volume status must be available to extend, but current status is: in-use.`);
      if (!['available', 'in-use'].includes(v.status))
        fail(
          400,
          `Invalid volume: Volume status must be available or in-use to extend, but current status is: ${v.status}.`,
        );
      const prev = v.status;
      v.status = 'extending';
      sim.later(sim.opts.stepMs, async () => {
        await truncate(v.file, newSize * GiB);
        v.size = newSize;
        v.status = prev;
        for (const s of c.servers) if (v.attachments.some((a) => a.serverId === s.id)) await sim.printState(s);
      });
      return { status: 202 };
    }
    if (sub === 'metadata' && m === 'POST') {
      v.metadata = { ...v.metadata, ...ctx.json<{ metadata: Record<string, string> }>().metadata };
      return { status: 200, body: { metadata: v.metadata } };
    }
    if (m === 'GET') return { status: 200, body: { volume: volumeView(sim, v) } };
    if (m === 'DELETE') {
      if (v.attachments.length || v.status === 'in-use')
        fail(
          400,
          `Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots or be disassociated from snapshots after volume transfer.`,
        );
      v.status = 'deleting';
      sim.later(sim.opts.stepMs, async () => {
        c.volumes = c.volumes.filter((x) => x !== v);
        await sim.removeFile(v.file);
      });
      return { status: 202 };
    }
  }
  if (kind === 'backups') {
    const view = (b: (typeof c.backups)[number]) => ({
      id: b.id,
      name: b.name,
      volume_id: b.volumeId,
      status: b.status,
      size: b.size,
      object_count: 1,
      container: 'volumebackups',
      availability_zone: 'nova',
      created_at: b.created,
      updated_at: b.created,
      data_timestamp: b.created,
      description: null,
      fail_reason: null,
      has_dependent_backups: false,
      is_incremental: false,
      snapshot_id: null,
      metadata: b.metadata,
      links: [],
    });
    if ((id === undefined || id === 'detail') && m === 'GET')
      return { status: 200, body: { backups: c.backups.map(view) } };
    if (id === undefined && m === 'POST') {
      const b =
        ctx.json<{
          backup?: { volume_id?: string; name?: string; force?: boolean; metadata?: Record<string, string> };
        }>().backup ?? {};
      const v = sim.volume(String(b.volume_id));
      if (v.status === 'in-use' && !b.force)
        fail(
          400,
          `Invalid volume: Volume to be backed up must be available or in-use, but the current status is "in-use".`,
        );
      const bid = randomUUID();
      const backup = {
        id: bid,
        name: b.name ?? '',
        volumeId: v.id,
        status: 'creating',
        size: v.size,
        metadata: ctx.microversion >= 43 ? (b.metadata ?? {}) : {},
        created: now(),
        file: join(sim.opts.stateDir, 'volumes', `backup-${bid}.img`),
      };
      c.backups.push(backup);
      sim.later(sim.opts.stepMs, async () => {
        await sparseCopy(v.file, backup.file);
        backup.status = 'available';
      });
      return { status: 202, body: { backup: { id: bid, name: backup.name, links: [] } } };
    }
    const b = c.backups.find((x) => x.id === id) ?? fail(404, `Backup ${id} could not be found.`);
    if (m === 'GET') return { status: 200, body: { backup: view(b) } };
    if (m === 'DELETE') {
      if (b.status !== 'available' && b.status !== 'error')
        fail(400, `Invalid backup: Backup status must be available or error`);
      c.backups = c.backups.filter((x) => x !== b);
      await sim.removeFile(b.file);
      return { status: 202 };
    }
  }
  return fail(404, 'The resource could not be found.');
}

function placement(sim: SimCloud, ctx: Ctx): Reply {
  const c = sim.cloud;
  const p = ctx.path.replace(/^\/placement/, '').replace(/\/$/, '');
  if (p === '')
    return {
      status: 200,
      body: {
        versions: [
          {
            id: 'v1.0',
            max_version: '1.39',
            min_version: '1.0',
            status: 'CURRENT',
            links: [{ rel: 'self', href: '' }],
          },
        ],
      },
    };
  const h = c.host;
  // Nova allocates at scheduling: every server that is not in ERROR holds its flavor's resources.
  const usage = () => {
    let VCPU = 0;
    let MEMORY_MB = 0;
    for (const s of c.servers) {
      if (s.status === 'ERROR') continue;
      const f = sim.flavor(s.flavorId);
      VCPU += f.vcpus;
      MEMORY_MB += f.ram;
    }
    return { VCPU, MEMORY_MB, DISK_GB: 0 };
  };
  const seg = p.split('/').filter(Boolean);
  if (seg[0] === 'resource_providers') {
    if (!seg[1])
      return {
        status: 200,
        body: {
          resource_providers: [
            {
              uuid: c.hostId,
              name: c.hostName,
              generation: 3,
              parent_provider_uuid: null,
              root_provider_uuid: c.hostId,
              links: [],
            },
          ],
        },
      };
    if (seg[1] !== c.hostId) fail(404, `No resource provider with uuid ${seg[1]} found`);
    if (seg[2] === 'inventories')
      return {
        status: 200,
        body: {
          resource_provider_generation: 3,
          inventories: {
            VCPU: {
              total: h.vcpus,
              reserved: 0,
              min_unit: 1,
              max_unit: h.vcpus,
              step_size: 1,
              allocation_ratio: h.cpuRatio,
            },
            MEMORY_MB: {
              total: h.ramMb,
              reserved: h.reservedRamMb,
              min_unit: 1,
              max_unit: h.ramMb,
              step_size: 1,
              allocation_ratio: 1.0,
            },
            DISK_GB: {
              total: h.diskGb,
              reserved: 0,
              min_unit: 1,
              max_unit: h.diskGb,
              step_size: 1,
              allocation_ratio: 1.0,
            },
          },
        },
      };
    if (seg[2] === 'usages') return { status: 200, body: { resource_provider_generation: 3, usages: usage() } };
    if (seg[2] === 'aggregates')
      return { status: 200, body: { aggregates: [c.aggregate.uuid], resource_provider_generation: 3 } };
  }
  if (seg[0] === 'usages') return { status: 200, body: { usages: usage() } };
  return fail(404, 'The resource could not be found.');
}

export function router(sim: SimCloud) {
  return async (ctx: Ctx): Promise<Reply> => {
    switch (ctx.service) {
      case 'identity':
        return identity(sim, ctx);
      case 'compute':
        return compute(sim, ctx);
      case 'image':
        return image(sim, ctx);
      case 'network':
        return network(sim, ctx);
      case 'volume':
        return volume(sim, ctx);
      case 'placement':
        return placement(sim, ctx);
    }
  };
}
