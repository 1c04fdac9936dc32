/** libvirt disks and volumes: hotplug, resize, the pools' volumes, export and import through the API. */
import { waitFor } from '../../host/wait.js';
import {
  type AttachedDisk,
  ConfigInvalid,
  Conflict,
  type DiskOps,
  type DiskSpec,
  NotFound,
  NotOwned,
  type Receipt,
  type StoragePool,
  type VmRef,
  type Volume,
  type VolumeFile,
} from '../contract/index.js';
import { type LibvirtBase, noHandle } from './core.js';
import { buildDeviceXml, diskXml, nextFreeTarget, ownedVolumeRun, parseVolumeXml, toVolume } from './mapping.js';
import { parsePoolXml } from './virsh-output.js';
import type { LibvirtVms } from './vms.js';

export class LibvirtDisks implements DiskOps {
  constructor(
    private readonly b: LibvirtBase,
    private readonly vms: LibvirtVms,
  ) {}

  async attachDisk(vm: VmRef, disk: DiskSpec): Promise<Receipt<AttachedDisk>> {
    const { b } = this;
    const d = await b.ownedDomain(vm);
    const t0 = performance.now();
    const target = nextFreeTarget(d.disksRaw.map((x) => x.target));
    const prefix = d.ownedVolumes[0] ?? `${d.name}-`;
    const volume = disk.volumeId
      ? (disk.volumeId.split('/').pop() as string)
      : await b.createVolume(`${prefix}${disk.name}`, disk.sizeBytes);
    const serial = disk.serial ?? disk.name;
    const format = disk.volumeId ? await b.volumeFormat(volume) : b.dataFormat;
    const xml = buildDeviceXml('disk', diskXml({ volume, target, serial, format }, b.cfg.pool));
    try {
      await b.withTempFile(xml, async (p) => b.virsh.run(['attach-device', vm.id, p, ...(await b.deviceFlags(vm))]));
    } catch (e) {
      if (!disk.volumeId) await b.deleteVolumeByName(volume).catch(() => undefined);
      throw e;
    }
    const state = await this.vms.inspect(vm);
    const attached = state.config.disks.find((x) => x.target === target);
    if (!attached) throw new NotFound(`disk ${target} not present in ${vm.name} after attach`);
    const ms = performance.now() - t0;
    return { result: attached, handle: noHandle, acceptedMs: ms, doneMs: ms };
  }

  async detachDisk(vm: VmRef, diskId: string): Promise<Receipt> {
    const { b } = this;
    await b.ownedDomain(vm);
    const t0 = performance.now();
    const flags = await b.deviceFlags(vm);
    await b.virsh.run(['detach-disk', vm.id, diskId, ...flags]);
    const acceptedMs = performance.now() - t0;
    // Live unplug needs the guest's cooperation; wait until the device is really gone.
    await waitFor(`disk ${diskId} to leave ${vm.name}`, b.policy('device'), async () =>
      (await b.domain(vm)).disksRaw.some((x) => x.target === diskId) ? undefined : true,
    );
    return { result: undefined, handle: noHandle, acceptedMs, doneMs: performance.now() - t0 };
  }

  async resizeDisk(vm: VmRef, diskId: string, sizeBytes: number): Promise<Receipt> {
    const { b } = this;
    const d = await b.ownedDomain(vm);
    const disk = d.disksRaw.find((x) => x.target === diskId);
    if (!disk) throw new NotFound(`${vm.name} has no disk ${diskId}`);
    const running = (await b.state(vm)).power === 'running';
    return b.timed(async () => {
      if (running) await b.virsh.run(['blockresize', vm.id, diskId, `${sizeBytes}B`]);
      else await b.virsh.run(['vol-resize', disk.volume, `${sizeBytes}B`, '--pool', disk.pool]);
    });
  }

  async volumes(): Promise<Volume[]> {
    const { b } = this;
    const attached = new Map<string, string[]>();
    for (const ref of await this.vms.list({})) {
      const d = await b.domain(ref).catch(() => undefined);
      for (const disk of d?.disksRaw ?? []) {
        const id = `${disk.pool}/${disk.volume}`;
        attached.set(id, [...(attached.get(id) ?? []), ref.id]);
      }
    }
    const out: Volume[] = [];
    for (const pool of new Set([b.cfg.pool, b.cfg.imagePool])) {
      await b.virsh.run(['pool-refresh', pool]);
      const names = await b.volumeNames(pool);
      for (const name of names) {
        const xml = await b.volumeXml(pool, name);
        if (xml) out.push(toVolume(pool, parseVolumeXml(xml), attached.get(`${pool}/${name}`) ?? []));
      }
    }
    return out;
  }

  async deleteVolume(volumeId: string): Promise<Receipt> {
    const { b } = this;
    const [pool, name] = volumeId.split('/', 2) as [string, string];
    // libvirt volumes have no metadata: ownership is the harness's own pool plus a vmc-<run id>- name prefix.
    if (!b.ownedPools.includes(pool) || !ownedVolumeRun(name)) {
      throw new NotOwned(
        `refusing to delete volume '${volumeId}': not in pool ${b.ownedPools.map((p) => `'${p}'`).join(' or ')} with a vmc-<run id>- name`,
      );
    }
    // Never pull a volume out from under a VM: libvirt's vol-delete does not check.
    const users = (await this.volumes()).find((v) => v.id === volumeId)?.attachedTo ?? [];
    if (users.length > 0) throw new Conflict(`volume '${volumeId}' is attached to ${users.join(', ')}`);
    return b.timed(() => b.deleteVolumeByName(name));
  }

  async storagePools(): Promise<StoragePool[]> {
    const names = await this.b.lines(['pool-list', '--all', '--name']);
    const out: StoragePool[] = [];
    for (const name of names) {
      const info = await this.b.virsh.run(['pool-info', name]);
      out.push({
        ...parsePoolXml(await this.b.virsh.run(['pool-dumpxml', name])),
        active: /State:\s+running/.test(info),
      });
    }
    return out;
  }

  async exportVolume(
    volumeId: string,
    dest: { path: string; format: VolumeFile['format'] },
  ): Promise<Receipt<VolumeFile>> {
    const { b } = this;
    const [pool, name] = volumeId.split('/', 2) as [string, string];
    if (!name) throw new ConfigInvalid(`volumeId '${volumeId}': expected <pool>/<volume>`);
    return b.timed(() =>
      b.withTempDir(async (dir) => {
        const got = await b.download(pool, name, dir);
        await b.qemuImg.convert(got.path, got.format, dest.path, dest.format);
        return { path: dest.path, format: dest.format, sizeBytes: (await b.qemuImg.info(dest.path)).virtualBytes };
      }),
    );
  }

  async importVolume(name: string, src: VolumeFile): Promise<Receipt<Volume>> {
    const { b } = this;
    b.requireRunPrefix('volume name', name);
    if (await b.volumeExists(b.cfg.pool, name)) throw new Conflict(`volume ${b.cfg.pool}/${name} exists`);
    const actual = (await b.qemuImg.info(src.path)).format;
    if (actual !== src.format)
      throw new ConfigInvalid(`format: ${src.path} is ${actual}, not the declared ${src.format}`);
    return b.timed(async () => {
      await b.uploadAsRaw(b.cfg.pool, name, src);
      const v = parseVolumeXml(await b.virsh.run(['vol-dumpxml', name, '--pool', b.cfg.pool]));
      return toVolume(b.cfg.pool, v, []);
    });
  }
}
