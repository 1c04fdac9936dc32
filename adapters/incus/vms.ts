/** Incus instances through the contract: create, power, delete, rename, read, list, reconfigure. */
import {
  Conflict,
  ownershipMarker,
  PrereqMissing,
  type Receipt,
  type Resize,
  type StopOptions,
  Unsupported,
  type VmOps,
  type VmRef,
  type VmSpec,
  type VmState,
  type WaitOperation,
  waitFor,
} from '../contract/index.js';
import { enc, handleOf, type IncusBase, randomMac, receipt } from './core.js';
import {
  diskDevice,
  type IncusDevice,
  type IncusInstance,
  keys,
  nextFreeTarget,
  nicDevice,
  nicName,
  ownerOf,
  ownershipConfig,
} from './mapping.js';

/** Where the container guest reads its NoCloud-like seed (adapters/incus/lab/container-init). */
const seedDir = '/etc/vmc/seed';
/** The same boot disk size the libvirt lab declares; on a dir pool Incus records it without a quota. */
const defaultBootDiskBytes = 64 * 1024 * 1024;

export class IncusVms implements VmOps {
  constructor(private readonly b: IncusBase) {}

  private async pushFile(name: string, path: string, content: string): Promise<void> {
    await this.b.client.raw('POST', `/1.0/instances/${enc(name)}/files`, {
      query: { path },
      raw: Buffer.from(content),
      headers: { 'x-incus-type': 'file', 'x-incus-mode': '0644', 'x-incus-uid': '0', 'x-incus-gid': '0' },
    });
  }

  async create(spec: VmSpec): Promise<Receipt<VmRef>> {
    const { cfg, client } = this.b;
    const t0 = performance.now();
    const type = cfg.instanceType;
    const owner = { marker: ownershipMarker, runId: this.b.ctx.runId, createdAt: new Date().toISOString() } as const;
    const config: Record<string, string> = {
      'limits.cpu': String(spec.vcpus),
      'limits.memory': `${spec.memoryMiB}MiB`,
      ...ownershipConfig(owner),
    };
    for (const [k, v] of Object.entries(spec.metadata)) config[`${keys.metaPrefix}${k}`] = v;
    for (const [k, v] of Object.entries(spec.placement ?? {})) if (v) config[`${keys.placementPrefix}${k}`] = v;
    if (spec.userData !== undefined) config['cloud-init.user-data'] = spec.userData;
    if (spec.firmware && type === 'virtual-machine') config['security.secureboot'] = 'false';
    if (spec.nics.some((n) => n.vlan !== undefined) && cfg.prereqMissing.vlan)
      throw new PrereqMissing(cfg.prereqMissing.vlan);
    // A container has no firmware: a spec asking for one needs a VM, which this lab cannot start.
    if (spec.firmware && type === 'container')
      throw new PrereqMissing(
        `${spec.firmware} firmware needs a virtual machine; this run creates containers: ${cfg.vmUnavailable ?? 'instanceType is container'}`,
      );
    if (spec.firmware === 'bios') {
      throw new Unsupported('Incus virtual machines boot UEFI only (no legacy BIOS firmware option)', 'platform');
    }
    if (type === 'virtual-machine' && cfg.kernel && cfg.initrd) {
      config['raw.qemu'] = `-kernel ${cfg.kernel} -initrd ${cfg.initrd} -append "console=ttyS0 quiet panic=-1"`;
    }
    const devices: Record<string, IncusDevice> = {
      root: {
        type: 'disk',
        path: '/',
        pool: cfg.pool,
        size: `${spec.bootDiskBytes ?? defaultBootDiskBytes}B`,
      },
    };
    // A failed create leaves nothing half-made (OBS-03): the volumes it made are removed again.
    return this.b.withRollback(async (rollback) => {
      const created: string[] = [];
      const used: string[] = [];
      for (const d of spec.disks) {
        const serial = d.serial ?? d.name;
        const volume = d.volumeId ? (d.volumeId.split('/').pop() as string) : `${spec.name}-${d.name}`;
        if (!d.volumeId) {
          await this.b.createVolume(volume, d.sizeBytes);
          created.push(volume);
          rollback.add(`volume ${volume}`, () => this.b.deleteVolumeByName(volume));
        }
        const target = nextFreeTarget(used);
        used.push(target);
        devices[target] = diskDevice(type, cfg.pool, volume, serial);
      }
      for (const [i, n] of spec.nics.entries())
        devices[nicName(i)] = nicDevice(type, i, { ...n, mac: (n.mac ?? randomMac()).toLowerCase() });
      const source = /^[0-9a-f]{64}$/.test(spec.image)
        ? { type: 'image', fingerprint: spec.image }
        : { type: 'image', alias: spec.image };
      const r = await client.async(
        'POST',
        '/1.0/instances',
        { json: { name: spec.name, type, source, config, devices, start: false } },
        `create instance ${spec.name} from image ${spec.image}`,
      );
      const inst = await this.b.getInstance(spec.name);
      const id = inst.config['volatile.uuid'] as string;
      this.b.names.set(id, spec.name);
      // Volumes made for this VM are released with it (LC-05): tag them with its id.
      for (const v of created) await client.raw('PATCH', this.b.volPath(v), { json: { config: { [keys.vm]: id } } });
      if (spec.userData !== undefined && type === 'container') {
        // A NoCloud-like seed the container guest reads at boot (a container has no cloud-init ISO).
        await this.pushFile(spec.name, `${seedDir}/user-data`, spec.userData);
        await this.pushFile(
          spec.name,
          `${seedDir}/meta-data`,
          `instance-id: ${spec.name}\nlocal-hostname: ${spec.name}\n`,
        );
      }
      return {
        result: { id, name: spec.name },
        handle: handleOf(r),
        acceptedMs: r.acceptedMs,
        doneMs: performance.now() - t0,
      };
    });
  }

  private async setState(
    vm: VmRef,
    action: 'start' | 'stop' | 'restart',
    extra: Record<string, unknown>,
    want: VmState['power'] | null,
    op: WaitOperation,
  ): Promise<Receipt> {
    const name = await this.b.nameOf(vm);
    const t0 = performance.now();
    const r = await this.b.client.async(
      'PUT',
      `/1.0/instances/${enc(name)}/state`,
      { json: { action, ...extra } },
      `${action} instance ${name}`,
    );
    if (want) {
      let last = '';
      await waitFor(
        `${name} to be ${want}`,
        this.b.policy(op),
        async () => {
          const s = await this.b.client.sync<{ status: string }>('GET', `/1.0/instances/${enc(name)}/state`);
          last = s.status;
          return s.status.toLowerCase() === want ? true : undefined;
        },
        { describeLast: () => last },
      );
    }
    return { ...receipt(r, undefined), doneMs: performance.now() - t0 };
  }

  start(vm: VmRef): Promise<Receipt> {
    return this.setState(vm, 'start', {}, 'running', 'start');
  }

  stop(vm: VmRef, opts: StopOptions): Promise<Receipt> {
    return opts.force
      ? this.setState(vm, 'stop', { force: true }, 'stopped', 'stop-forced')
      : this.setState(vm, 'stop', { force: false, timeout: 60 }, 'stopped', 'stop-graceful');
  }

  /** Incus restart: for a container a clean stop and start of its init; for a VM an ACPI reboot. */
  reboot(vm: VmRef): Promise<Receipt> {
    return this.setState(vm, 'restart', { timeout: 60 }, null, 'reboot');
  }

  async delete(vm: VmRef): Promise<Receipt> {
    const { client } = this.b;
    const { name, inst } = await this.b.ownedInstance(vm);
    const t0 = performance.now();
    if (inst.status !== 'Stopped')
      await client
        .async('PUT', `/1.0/instances/${enc(name)}/state`, { json: { action: 'stop', force: true } }, `stop ${name}`)
        .catch((e) => (e instanceof Conflict ? undefined : Promise.reject(e)));
    const r = await client.async('DELETE', `/1.0/instances/${enc(name)}`, {}, `delete instance ${name}`);
    this.b.names.delete(vm.id);
    // Released with the VM: volumes created for it and still attached to it.
    for (const dev of Object.values(inst.devices)) {
      if (dev.type !== 'disk' || !dev.source || dev.path === '/') continue;
      const v = await this.b.volumeInfo(dev.source).catch(() => undefined);
      if (v?.config[keys.vm] === vm.id && ownerOf(v.config)) await this.b.deleteVolumeByName(dev.source);
    }
    return { result: undefined, handle: handleOf(r), acceptedMs: r.acceptedMs, doneMs: performance.now() - t0 };
  }

  async rename(vm: VmRef, newName: string): Promise<Receipt<VmRef>> {
    const { name } = await this.b.ownedInstance(vm);
    const r = await this.b.client.async(
      'POST',
      `/1.0/instances/${enc(name)}`,
      { json: { name: newName } },
      `rename ${name}`,
    );
    this.b.names.set(vm.id, newName);
    return receipt(r, { id: vm.id, name: newName });
  }

  inspect(vm: VmRef): Promise<VmState> {
    return this.b.inspect(vm);
  }

  async list(filter: { owner?: string; metadata?: Record<string, string> }): Promise<VmRef[]> {
    // Incus filters server-side on config keys (API extension api_filtering).
    const clauses = [`config.${keys.marker} eq ${ownershipMarker}`];
    if (filter.owner !== undefined) clauses.push(`config.${keys.run} eq ${filter.owner}`);
    for (const [k, v] of Object.entries(filter.metadata ?? {})) clauses.push(`config.${keys.metaPrefix}${k} eq ${v}`);
    const found = await this.b.client.sync<IncusInstance[]>('GET', '/1.0/instances', {
      query: { recursion: 1, filter: clauses.join(' and ') },
    });
    return found.map((i) => {
      const id = i.config['volatile.uuid'] as string;
      this.b.names.set(id, i.name);
      return { id, name: i.name };
    });
  }

  async reconfigure(vm: VmRef, change: Resize): Promise<Receipt> {
    const { name } = await this.b.ownedInstance(vm);
    const config: Record<string, string> = {};
    if (change.vcpus !== undefined) config['limits.cpu'] = String(change.vcpus);
    if (change.memoryMiB !== undefined) config['limits.memory'] = `${change.memoryMiB}MiB`;
    const r = await this.b.client.async(
      'PATCH',
      `/1.0/instances/${enc(name)}`,
      { json: { config } },
      `reconfigure ${name}`,
    );
    return receipt(r, undefined);
  }
}
