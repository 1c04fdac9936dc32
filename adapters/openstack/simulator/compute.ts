/** Simulated Nova v2.1: servers, actions, metadata, tags, volume and interface attachments, inventory. */
import { createHash, randomUUID } from 'node:crypto';
import type { SimCloud } from './cloud.js';
import { type Ctx, HttpError, type Reply } from './http.js';
import { GiB, now, type Server } from './state.js';

const fail = (status: number, message: string): never => {
  throw new HttpError(status, message);
};

const vmState = (s: Server) =>
  ({
    ACTIVE: 'active',
    SHUTOFF: 'stopped',
    BUILD: 'building',
    ERROR: 'error',
    REBOOT: 'active',
    HARD_REBOOT: 'active',
    VERIFY_RESIZE: 'resized',
    RESIZE: s.powerState === 1 ? 'active' : 'stopped',
  })[s.status] ?? s.status.toLowerCase();

export function serverView(sim: SimCloud, s: Server, mv: number): Record<string, unknown> {
  const c = sim.cloud;
  const f = sim.flavor(s.flavorId);
  const addresses: Record<string, unknown[]> = {};
  for (const pid of s.ports) {
    const p = c.ports.find((x) => x.id === pid);
    const n = c.networks.find((x) => x.id === p?.networkId);
    if (!p || !n) continue;
    const list = addresses[n.name] ?? [];
    addresses[n.name] = list;
    list.push({
      version: 4,
      addr: p.ip,
      'OS-EXT-IPS:type': 'fixed',
      'OS-EXT-IPS-MAC:mac_addr': p.mac,
    });
  }
  return {
    id: s.id,
    name: s.name,
    status: s.status,
    tenant_id: c.projectId,
    user_id: c.userId,
    metadata: s.metadata,
    hostId: createHash('sha224')
      .update(c.projectId + s.host)
      .digest('hex'),
    image: s.imageId === '' ? '' : { id: s.imageId, links: [] },
    flavor:
      mv >= 47
        ? { vcpus: f.vcpus, ram: f.ram, disk: f.disk, ephemeral: 0, swap: 0, original_name: f.name, extra_specs: {} }
        : { id: f.id, links: [] },
    created: s.created,
    updated: s.updated,
    addresses,
    accessIPv4: '',
    accessIPv6: '',
    links: [{ rel: 'self', href: `${sim.base}/compute/v2.1/servers/${s.id}` }],
    'OS-DCF:diskConfig': 'MANUAL',
    progress: 0,
    'OS-EXT-AZ:availability_zone': s.az,
    config_drive: 'True',
    key_name: null,
    'OS-SRV-USG:launched_at': s.launchedAt,
    'OS-SRV-USG:terminated_at': null,
    'OS-EXT-SRV-ATTR:host': s.host,
    'OS-EXT-SRV-ATTR:instance_name': `instance-${s.id.slice(0, 8)}`,
    'OS-EXT-SRV-ATTR:hypervisor_hostname': s.host,
    'OS-EXT-SRV-ATTR:hostname': s.name,
    'OS-EXT-STS:task_state': s.taskState,
    'OS-EXT-STS:vm_state': vmState(s),
    'OS-EXT-STS:power_state': s.powerState,
    'os-extended-volumes:volumes_attached': s.volumes.map((v) => ({
      id: v.volumeId,
      delete_on_termination: v.deleteOnTermination,
    })),
    security_groups: [{ name: 'default' }],
    locked: false,
    locked_reason: null,
    description: null,
    tags: s.tags,
    trusted_image_certificates: null,
    host_status: 'UP',
    server_groups: [],
    ...(s.fault ? { fault: s.fault } : {}),
  };
}

const validMetadata = (m: unknown): Record<string, string> => {
  if (typeof m !== 'object' || m === null)
    return fail(400, "Invalid input for field/attribute metadata. Value: None. None is not of type 'object'");
  for (const [k, v] of Object.entries(m)) {
    if (!NOVA_META.test(k))
      fail(400, `Invalid input for field/attribute metadata. Value: ${k}. Additional properties are not allowed`);
    if (typeof v !== 'string' || v.length > 255)
      fail(400, `Invalid input for field/attribute ${k}. Value: ${String(v)}. is not of type 'string' or is too long`);
  }
  return { ...(m as Record<string, string>) };
};
const NOVA_META = /^[a-zA-Z0-9-_:. ]{1,255}$/;
const validTag = (t: string) => t.length > 0 && t.length <= 60 && !/[,/]/.test(t);

function nextDevice(s: Server): string {
  const used = new Set(s.volumes.map((v) => v.device));
  for (let i = 0; i < 26; i++) {
    const d = `/dev/vd${String.fromCharCode(97 + i)}`;
    if (!used.has(d)) return d;
  }
  return fail(400, 'No free disk device names for prefix vd');
}

/** Placement-style scheduling: the server's flavor must fit what the host has left. */
function fits(sim: SimCloud, vcpus: number, ram: number): boolean {
  const h = sim.cloud.host;
  let cpu = 0;
  let mem = 0;
  for (const s of sim.cloud.servers) {
    if (s.status === 'ERROR') continue;
    const f = sim.flavor(s.flavorId);
    cpu += f.vcpus;
    mem += f.ram;
  }
  return cpu + vcpus <= h.vcpus * h.cpuRatio && mem + ram <= h.ramMb - h.reservedRamMb;
}

async function createServer(sim: SimCloud, ctx: Ctx): Promise<Reply> {
  const c = sim.cloud;
  const body =
    ctx.json<{ server?: Record<string, unknown> }>().server ??
    fail(400, "Invalid input for field/attribute server. 'server' is a required property");
  const name =
    typeof body.name === 'string' && body.name.length > 0
      ? body.name
      : fail(400, "Invalid input for field/attribute name. 'name' is a required property");
  const flavor = sim.flavor(String(body.flavorRef ?? ''));
  const metadata = body.metadata === undefined ? {} : validMetadata(body.metadata);
  const tags = (body.tags as string[] | undefined) ?? [];
  if (tags.length && ctx.microversion < 52)
    fail(
      400,
      "Invalid input for field/attribute server. Additional properties are not allowed ('tags' was unexpected)",
    );
  if (!tags.every(validTag)) fail(400, 'Invalid input for field/attribute tags.');
  const az = typeof body.availability_zone === 'string' ? body.availability_zone : c.az;
  if (az !== c.az) fail(400, `The requested availability zone is not available`);
  const bdms = (body.block_device_mapping_v2 as Record<string, unknown>[] | undefined) ?? [];
  const imageRef = String(body.imageRef ?? '');
  const boot = bdms.find((b) => b.boot_index === 0 || b.boot_index === '0');
  const bootImage = boot?.source_type === 'image' ? String(boot.uuid) : imageRef;
  const fromVolume = boot?.source_type === 'volume';
  if (fromVolume) {
    const v = sim.volume(String(boot?.uuid));
    if (v.status !== 'available')
      fail(400, `Invalid volume: volume ${v.id} status must be 'available'. Currently in '${v.status}'`);
  }
  const image = fromVolume ? undefined : c.images.find((i) => i.id === bootImage);
  if (!fromVolume && !image) fail(400, `Image ${bootImage} could not be found.`);
  if (!fromVolume && image?.status !== 'active') fail(400, `Image ${bootImage} is not active.`);
  if (!boot && flavor.disk === 0) fail(403, 'Only volume-backed servers are allowed for flavors with zero disk.');
  const networks =
    (body.networks as { port?: string; uuid?: string; tag?: string }[] | 'none' | 'auto' | undefined) ?? 'auto';
  const portIds: string[] = [];
  if (Array.isArray(networks)) {
    for (const n of networks) {
      const port = c.ports.find((p) => p.id === n.port) ?? fail(400, `Port id ${n.port} could not be found.`);
      if (port.deviceId) fail(409, `Port ${port.id} is still in use.`);
      portIds.push(port.id);
    }
  }
  const id = randomUUID();
  const s: Server = {
    id,
    name,
    status: 'BUILD',
    taskState: 'scheduling',
    powerState: 0,
    flavorId: flavor.id,
    imageId: boot ? '' : bootImage,
    metadata,
    tags,
    az,
    host: c.hostName,
    created: now(),
    updated: now(),
    launchedAt: null,
    userData: typeof body.user_data === 'string' ? body.user_data : null,
    fault: null,
    ports: portIds,
    volumes: [],
    console: [],
    stateSeq: 0,
    bootedAt: null,
    cpuNs: 0,
    actions: [],
  };
  c.servers.push(s);
  const a = sim.action(s, 'create', ctx.requestId, ['compute__do_build_and_run_instance']);
  if (!fits(sim, flavor.vcpus, flavor.ram)) {
    // Nova accepts the request, then the scheduler fails it: the reason lands in the server's fault.
    sim.later(sim.opts.stepMs, () => {
      s.status = 'ERROR';
      s.taskState = null;
      s.fault = {
        code: 500,
        created: now(),
        message: 'No valid host was found. There are not enough hosts available.',
        details:
          'Traceback (most recent call last):\n  File "/usr/lib/python3/dist-packages/nova/conductor/manager.py", line 1580, in schedule_and_build_instances\nnova.exception.NoValidHost: No valid host was found. There are not enough hosts available.\n',
      };
      sim.finishAction(a, false);
    });
  } else {
    for (const pid of portIds) {
      const p = c.ports.find((x) => x.id === pid);
      if (p) Object.assign(p, { deviceId: id, deviceOwner: 'compute:nova' });
    }
    sim.later(sim.opts.stepMs, async () => {
      s.taskState = 'block_device_mapping';
      for (const [i, b] of bdms.entries()) {
        const device = i === 0 ? '/dev/vda' : nextDevice(s);
        if (b.source_type === 'image') {
          const vid = randomUUID();
          const size = Number(b.volume_size ?? 1);
          const file = await sim.createVolumeFile(vid, size, image?.file ?? undefined);
          c.volumes.push({
            id: vid,
            name: '',
            size,
            status: 'in-use',
            metadata: {},
            imageId: image?.id ?? null,
            bootable: true,
            created: now(),
            file,
            attachments: [{ attachmentId: randomUUID(), serverId: id, device, attachedAt: now() }],
          });
          s.volumes.push({
            id: vid,
            volumeId: vid,
            device,
            tag: (b.tag as string) ?? null,
            deleteOnTermination: b.delete_on_termination === true,
          });
        } else if (b.source_type === 'volume') {
          const v = sim.volume(String(b.uuid));
          v.status = 'in-use';
          v.attachments.push({ attachmentId: randomUUID(), serverId: id, device, attachedAt: now() });
          s.volumes.push({
            id: v.id,
            volumeId: v.id,
            device,
            tag: (b.tag as string) ?? null,
            deleteOnTermination: b.delete_on_termination === true,
          });
        }
      }
      s.taskState = 'spawning';
      sim.later(sim.opts.stepMs, () => sim.finishBoot(s, a));
    });
  }
  return {
    status: 202,
    body: {
      server: {
        id,
        links: [],
        'OS-DCF:diskConfig': 'MANUAL',
        security_groups: [{ name: 'default' }],
        adminPass: 'Sim0nlyN0tUsed',
      },
    },
  };
}

async function serverAction(sim: SimCloud, ctx: Ctx, s: Server): Promise<Reply> {
  const body = ctx.json();
  const [name] = Object.keys(body);
  const busy = () => {
    if (s.taskState) fail(409, `Cannot '${name}' instance ${s.id} while it is in task_state ${s.taskState}`);
  };
  const need = (want: string[]) => {
    busy();
    if (!want.includes(s.status)) fail(409, `Cannot '${name}' instance ${s.id} while it is in vm_state ${vmState(s)}`);
  };
  switch (name) {
    case 'os-start': {
      need(['SHUTOFF']);
      // Nova's libvirt driver: os-start is a hard reboot and the console log is opened with
      // append="off", so the log restarts at every start.
      s.console = [];
      s.taskState = 'powering-on';
      const a = sim.action(s, 'start', ctx.requestId, ['compute_start_instance']);
      sim.later(sim.opts.stepMs, () => sim.finishBoot(s, a));
      return { status: 202 };
    }
    case 'os-stop': {
      need(['ACTIVE', 'ERROR']);
      s.taskState = 'powering-off';
      const a = sim.action(s, 'stop', ctx.requestId, ['compute_stop_instance']);
      sim.later(sim.opts.stepMs, () => sim.finishStop(s, true, a));
      return { status: 202 };
    }
    case 'reboot': {
      const type = (body.reboot as { type?: string } | undefined)?.type;
      if (type !== 'SOFT' && type !== 'HARD')
        fail(
          400,
          "Invalid input for field/attribute type. Value: None. None is not one of ['SOFT', 'HARD', 'soft', 'hard']",
        );
      need(['ACTIVE']);
      s.status = type === 'SOFT' ? 'REBOOT' : 'HARD_REBOOT';
      s.taskState = type === 'SOFT' ? 'rebooting' : 'rebooting_hard';
      const a = sim.action(s, 'reboot', ctx.requestId, ['compute_reboot_instance']);
      sim.later(sim.opts.stepMs, () => {
        sim.finishStop(s, type === 'SOFT');
        sim.finishBoot(s, a);
      });
      return { status: 202 };
    }
    case 'os-getConsoleOutput': {
      if (s.status === 'SHUTOFF') fail(404, 'Guest does not have a console available.');
      const length = (body['os-getConsoleOutput'] as { length?: number | string | null } | null)?.length;
      const lines =
        length === undefined || length === null || Number(length) < 0 ? s.console : s.console.slice(-Number(length));
      return { status: 200, body: { output: lines.length ? `${lines.join('\n')}\n` : '' } };
    }
    case 'resize': {
      need(['ACTIVE', 'SHUTOFF']);
      const f = sim.flavor(String((body.resize as { flavorRef?: string }).flavorRef));
      if (f.id === s.flavorId) fail(400, 'When resizing, instances must change flavor!');
      s.resizeFrom = { flavorId: s.flavorId, status: s.status };
      s.status = 'RESIZE';
      s.taskState = 'resize_prep';
      const a = sim.action(s, 'resize', ctx.requestId, [
        'compute_prep_resize',
        'compute_resize_instance',
        'compute_finish_resize',
      ]);
      sim.later(sim.opts.stepMs, () => {
        s.flavorId = f.id;
        s.status = 'VERIFY_RESIZE';
        s.taskState = null;
        s.updated = now();
        sim.finishAction(a, true);
      });
      return { status: 202 };
    }
    case 'confirmResize': {
      if (s.status !== 'VERIFY_RESIZE')
        fail(409, `Cannot 'confirmResize' instance ${s.id} while it is in vm_state ${vmState(s)}`);
      const a = sim.action(s, 'confirmResize', ctx.requestId, ['compute_confirm_resize']);
      s.status = s.resizeFrom?.status === 'SHUTOFF' ? 'SHUTOFF' : 'ACTIVE';
      delete s.resizeFrom;
      sim.finishAction(a, true);
      return { status: 204 };
    }
    default:
      return fail(400, `There is no such action: ${name}`);
  }
}

async function attachVolume(sim: SimCloud, ctx: Ctx, s: Server): Promise<Reply> {
  const va = ctx.json<{ volumeAttachment?: { volumeId?: string; tag?: string; delete_on_termination?: boolean } }>()
    .volumeAttachment;
  const v =
    sim.cloud.volumes.find((x) => x.id === va?.volumeId) ?? fail(404, `Volume ${va?.volumeId} could not be found.`);
  if (v.status !== 'available')
    fail(400, `Invalid volume: volume ${v.id} status must be 'available'. Currently in '${v.status}'`);
  if (s.taskState) fail(409, `Cannot 'attach_volume' instance ${s.id} while it is in task_state ${s.taskState}`);
  const device = nextDevice(s);
  const attachmentId = randomUUID();
  v.status = 'attaching';
  const a = sim.action(s, 'attach_volume', ctx.requestId, ['compute_attach_volume']);
  sim.later(sim.opts.stepMs, async () => {
    v.status = 'in-use';
    v.attachments.push({ attachmentId, serverId: s.id, device, attachedAt: now() });
    s.volumes.push({
      id: v.id,
      volumeId: v.id,
      device,
      tag: va?.tag ?? null,
      deleteOnTermination: va?.delete_on_termination === true,
    });
    sim.finishAction(a, true);
    await sim.printState(s);
  });
  return {
    status: 200,
    body: {
      volumeAttachment: {
        id: v.id,
        serverId: s.id,
        volumeId: v.id,
        device,
        tag: va?.tag ?? null,
        delete_on_termination: va?.delete_on_termination === true,
        attachment_id: attachmentId,
      },
    },
  };
}

async function detachVolume(sim: SimCloud, ctx: Ctx, s: Server, volumeId: string): Promise<Reply> {
  const sv = s.volumes.find((x) => x.volumeId === volumeId) ?? fail(404, `volume_id not found: ${volumeId}`);
  if (sv.device === '/dev/vda') fail(400, `Cannot detach a root device volume`);
  const v = sim.volume(volumeId);
  v.status = 'detaching';
  const a = sim.action(s, 'detach_volume', ctx.requestId, ['compute_detach_volume']);
  sim.later(sim.opts.stepMs, async () => {
    s.volumes = s.volumes.filter((x) => x !== sv);
    v.attachments = v.attachments.filter((x) => x.serverId !== s.id);
    v.status = 'available';
    sim.finishAction(a, true);
    await sim.printState(s);
  });
  return { status: 202 };
}

const interfaceView = (sim: SimCloud, pid: string) => {
  const p = sim.cloud.ports.find((x) => x.id === pid);
  return {
    port_id: pid,
    net_id: p?.networkId,
    mac_addr: p?.mac,
    port_state: 'ACTIVE',
    fixed_ips: [{ subnet_id: sim.cloud.networks.find((n) => n.id === p?.networkId)?.subnetId, ip_address: p?.ip }],
    tag: null,
  };
};

function hypervisorView(sim: SimCloud, mv: number) {
  const c = sim.cloud;
  return {
    id: c.hostId,
    hypervisor_hostname: c.hostName,
    state: 'up',
    status: 'enabled',
    hypervisor_type: 'QEMU',
    hypervisor_version: 7002000,
    host_ip: '127.0.0.1',
    service: { host: c.hostName, id: randomUUID(), disabled_reason: null },
    // Microversion 2.88 removed the usage fields; Placement is the source of capacity since then.
    ...(mv < 88
      ? {
          vcpus: c.host.vcpus,
          memory_mb: c.host.ramMb,
          local_gb: c.host.diskGb,
          vcpus_used: 0,
          memory_mb_used: 0,
          local_gb_used: 0,
          running_vms: 0,
        }
      : { uptime: ' 00:00:00 up 1 day' }),
  };
}

export async function compute(sim: SimCloud, ctx: Ctx): Promise<Reply> {
  const c = sim.cloud;
  const p = ctx.path.replace(/^\/compute/, '').replace(/\/$/, '');
  const m = ctx.method;
  if (p === '' || p === '/v2.1') {
    const v21 = {
      id: 'v2.1',
      status: 'CURRENT',
      version: '2.93',
      min_version: '2.1',
      updated: '2013-07-23T11:33:21Z',
      links: [{ rel: 'self', href: `${sim.base}/compute/v2.1/` }],
    };
    return { status: 200, body: p === '' ? { versions: [v21] } : { version: v21 } };
  }
  const seg = p
    .replace(/^\/v2\.1/, '')
    .split('/')
    .filter(Boolean);
  const [a0, a1, a2, a3] = seg;
  if (a0 === 'flavors') {
    if (a1 === 'detail' || (a1 === undefined && m === 'GET'))
      return {
        status: 200,
        body: {
          flavors: c.flavors.map((f) => ({
            ...f,
            'OS-FLV-EXT-DATA:ephemeral': 0,
            swap: 0,
            'os-flavor-access:is_public': true,
            links: [],
          })),
        },
      };
    if (a1 === undefined && m === 'POST') {
      const f = ctx.json<{ flavor: { name: string; vcpus: number; ram: number; disk: number } }>().flavor;
      if (c.flavors.some((x) => x.name === f.name)) fail(409, `Flavor with name ${f.name} already exists.`);
      const flavor = { id: randomUUID(), name: f.name, vcpus: f.vcpus, ram: f.ram, disk: f.disk };
      c.flavors.push(flavor);
      return { status: 200, body: { flavor } };
    }
    if (a1)
      return {
        status: 200,
        body: { flavor: c.flavors.find((f) => f.id === a1) ?? fail(404, `Flavor ${a1} could not be found.`) },
      };
  }
  if (a0 === 'servers') {
    if ((a1 === undefined || a1 === 'detail') && m === 'GET') {
      let list = c.servers;
      const tags = ctx.query.get('tags');
      if (tags) list = list.filter((s) => tags.split(',').every((t) => s.tags.includes(t)));
      const name = ctx.query.get('name');
      if (name) list = list.filter((s) => new RegExp(name).test(s.name));
      const since = ctx.query.get('changes-since');
      if (since) list = list.filter((s) => s.updated >= since);
      return {
        status: 200,
        body: {
          servers: list.map((s) =>
            a1 === 'detail' ? serverView(sim, s, ctx.microversion) : { id: s.id, name: s.name, links: [] },
          ),
        },
      };
    }
    if (a1 === undefined && m === 'POST') return createServer(sim, ctx);
    const s = sim.server(String(a1));
    if (a2 === undefined) {
      if (m === 'GET') return { status: 200, body: { server: serverView(sim, s, ctx.microversion) } };
      if (m === 'PUT') {
        const name = ctx.json<{ server?: { name?: string } }>().server?.name;
        if (name !== undefined) s.name = name;
        s.updated = now();
        return { status: 200, body: { server: serverView(sim, s, ctx.microversion) } };
      }
      if (m === 'DELETE') {
        if (s.taskState === 'deleting') return { status: 204 };
        s.taskState = 'deleting';
        const act = sim.action(s, 'delete', ctx.requestId, ['compute_terminate_instance']);
        sim.later(sim.opts.stepMs, async () => {
          sim.finishAction(act, true);
          for (const sv of s.volumes) {
            const v = c.volumes.find((x) => x.id === sv.volumeId);
            if (!v) continue;
            v.attachments = v.attachments.filter((x) => x.serverId !== s.id);
            if (sv.deleteOnTermination) {
              c.volumes = c.volumes.filter((x) => x !== v);
              await sim.removeFile(v.file);
            } else v.status = 'available';
          }
          for (const pid of s.ports) {
            const port = c.ports.find((x) => x.id === pid);
            if (port) Object.assign(port, { deviceId: '', deviceOwner: '' });
          }
          c.servers = c.servers.filter((x) => x !== s);
        });
        return { status: 204 };
      }
    }
    if (a2 === 'action' && m === 'POST') return serverAction(sim, ctx, s);
    if (a2 === 'metadata') {
      if (m === 'GET' && !a3) return { status: 200, body: { metadata: s.metadata } };
      if ((m === 'PUT' || m === 'POST') && !a3) {
        const md = validMetadata(ctx.json<{ metadata?: unknown }>().metadata);
        s.metadata = m === 'PUT' ? md : { ...s.metadata, ...md };
        s.updated = now();
        return { status: 200, body: { metadata: s.metadata } };
      }
      if (m === 'DELETE' && a3) {
        const key = decodeURIComponent(a3);
        if (!(key in s.metadata)) fail(404, `Metadata item was not found`);
        delete s.metadata[key];
        return { status: 204 };
      }
    }
    if (a2 === 'tags') {
      if (m === 'GET') return { status: 200, body: { tags: s.tags } };
      if (m === 'PUT' && !a3) {
        const tags = ctx.json<{ tags: string[] }>().tags;
        if (!tags.every(validTag)) fail(400, 'Invalid input for field/attribute tags.');
        s.tags = tags;
        return { status: 200, body: { tags } };
      }
    }
    if (a2 === 'os-instance-actions') {
      if (!a3)
        return {
          status: 200,
          body: {
            instanceActions: s.actions.map(({ events: _e, ...x }) => ({
              ...x,
              instance_uuid: s.id,
              project_id: c.projectId,
              user_id: c.userId,
            })),
          },
        };
      const act = s.actions.find((x) => x.request_id === a3) ?? fail(404, `Action ${a3} not found`);
      return {
        status: 200,
        body: { instanceAction: { ...act, instance_uuid: s.id, project_id: c.projectId, user_id: c.userId } },
      };
    }
    if (a2 === 'os-volume_attachments') {
      if (m === 'GET')
        return {
          status: 200,
          body: {
            volumeAttachments: s.volumes.map((v) => ({
              id: v.volumeId,
              serverId: s.id,
              volumeId: v.volumeId,
              device: v.device,
              tag: v.tag,
              delete_on_termination: v.deleteOnTermination,
              attachment_id:
                c.volumes.find((x) => x.id === v.volumeId)?.attachments.find((y) => y.serverId === s.id)
                  ?.attachmentId ?? null,
            })),
          },
        };
      if (m === 'POST') return attachVolume(sim, ctx, s);
      if (m === 'DELETE' && a3) return detachVolume(sim, ctx, s, a3);
    }
    if (a2 === 'os-interface') {
      if (m === 'GET')
        return { status: 200, body: { interfaceAttachments: s.ports.map((pid) => interfaceView(sim, pid)) } };
      if (m === 'POST') {
        const ia = ctx.json<{ interfaceAttachment?: { port_id?: string } }>().interfaceAttachment;
        const port = c.ports.find((x) => x.id === ia?.port_id) ?? fail(404, `Port ${ia?.port_id} could not be found.`);
        if (port.deviceId) fail(409, `Port ${port.id} is still in use.`);
        Object.assign(port, { deviceId: s.id, deviceOwner: 'compute:nova' });
        s.ports.push(port.id);
        const act = sim.action(s, 'attach_interface', ctx.requestId, ['compute_attach_interface']);
        sim.finishAction(act, true);
        await sim.printState(s);
        return { status: 200, body: { interfaceAttachment: interfaceView(sim, port.id) } };
      }
      if (m === 'DELETE' && a3) {
        if (!s.ports.includes(a3)) fail(404, `Port ${a3} is not attached`);
        const act = sim.action(s, 'detach_interface', ctx.requestId, ['compute_detach_interface']);
        sim.later(sim.opts.stepMs, async () => {
          s.ports = s.ports.filter((x) => x !== a3);
          const port = c.ports.find((x) => x.id === a3);
          // Nova deletes ports it did not create only when asked to; ours were pre-created, so they stay unbound.
          if (port) Object.assign(port, { deviceId: '', deviceOwner: '' });
          sim.finishAction(act, true);
          await sim.printState(s);
        });
        return { status: 202 };
      }
    }
    if (a2 === 'diagnostics' && m === 'GET') {
      if (s.powerState !== 1)
        fail(409, `Cannot 'get_diagnostics' instance ${s.id} while it is in vm_state ${vmState(s)}`);
      const up = (Date.now() - (s.bootedAt ?? Date.now())) / 1000;
      const f = sim.flavor(s.flavorId);
      return {
        status: 200,
        body: {
          state: 'running',
          driver: 'libvirt',
          hypervisor: 'qemu',
          hypervisor_os: 'linux',
          uptime: Math.round(up),
          config_drive: true,
          num_cpus: f.vcpus,
          num_disks: s.volumes.length,
          num_nics: s.ports.length,
          memory_details: { maximum: f.ram, used: Math.round(f.ram * 0.4) },
          cpu_details: Array.from({ length: f.vcpus }, (_, id) => ({
            id,
            time: Math.round(s.cpuNs + up * 5e7 + 1e6),
            utilisation: null,
          })),
          disk_details: [...s.volumes]
            .sort((x, y) => x.device.localeCompare(y.device))
            .map(() => ({
              read_bytes: 64 * 1024 + Math.round(up * 100),
              read_requests: 16,
              write_bytes: 0,
              write_requests: 0,
              errors_count: 0,
            })),
          nic_details: s.ports.map((pid) => ({
            mac_address: c.ports.find((x) => x.id === pid)?.mac,
            rx_octets: 0,
            rx_errors: 0,
            rx_drop: 0,
            rx_packets: 0,
            rx_rate: null,
            tx_octets: 0,
            tx_errors: 0,
            tx_drop: 0,
            tx_packets: 0,
            tx_rate: null,
          })),
        },
      };
    }
  }
  if (a0 === 'os-availability-zone')
    return {
      status: 200,
      body: {
        availabilityZoneInfo: [
          // An all-in-one cloud lists its host in 'internal' too, for the conductor and scheduler.
          {
            zoneName: 'internal',
            zoneState: { available: true },
            hosts: {
              [c.hostName]: {
                'nova-conductor': { available: true, active: true, updated_at: now() },
                'nova-scheduler': { available: true, active: true, updated_at: now() },
              },
            },
          },
          {
            zoneName: c.az,
            zoneState: { available: true },
            hosts: { [c.hostName]: { 'nova-compute': { available: true, active: true, updated_at: now() } } },
          },
        ],
      },
    };
  if (a0 === 'os-aggregates' && m === 'GET')
    return {
      status: 200,
      body: {
        aggregates: [
          {
            id: c.aggregate.id,
            uuid: c.aggregate.uuid,
            name: c.aggregate.name,
            availability_zone: null,
            hosts: [c.hostName],
            metadata: { failure_domain: c.aggregate.name },
            created_at: now(),
            updated_at: null,
            deleted: false,
            deleted_at: null,
          },
        ],
      },
    };
  if (a0 === 'os-hypervisors') {
    if (a1 === 'detail' || a1 === undefined)
      return { status: 200, body: { hypervisors: [hypervisorView(sim, ctx.microversion)] } };
    if (a1 === c.hostId) return { status: 200, body: { hypervisor: hypervisorView(sim, ctx.microversion) } };
    fail(404, `Hypervisor with ID ${a1} could not be found.`);
  }
  return fail(404, `The resource could not be found.`);
}

export const bytesToGb = (b: number) => Math.ceil(b / GiB);
