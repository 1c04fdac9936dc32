/** libvirt VM lifecycle: domains defined from the harness's XML, power transitions, inspection. */
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { type WaitOperation, waitFor } from '../../host/wait.js';
import {
  Conflict,
  NotFound,
  ownershipMarker,
  type Receipt,
  type Resize,
  type StopOptions,
  type VmOps,
  type VmRef,
  type VmSpec,
  type VmState,
} from '../contract/index.js';
import { type LibvirtBase, mac, noHandle } from './core.js';
import { buildDomainXml, type DomainBuild, parseDomainXml, parseVolumeXml, targetFor } from './mapping.js';
import { parseCapabilities } from './virsh-output.js';

/** Domain parts every domain of this adapter gets from its config and run, whatever created it. */
type FixedParts =
  | 'name'
  | 'accel'
  | 'kernel'
  | 'initrd'
  | 'cmdline'
  | 'consoleLog'
  | 'pool'
  | 'owner'
  | 'ownedVolumes'
  | 'emulator';

export class LibvirtVms implements VmOps {
  constructor(private readonly b: LibvirtBase) {}

  /** NoCloud seed: an ISO labelled cidata, uploaded as a volume so remote hosts work too. */
  private async createSeed(name: string, vmName: string, userData: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'vmconform-seed-'));
    try {
      await writeFile(join(dir, 'user-data'), userData);
      await writeFile(join(dir, 'meta-data'), `instance-id: ${vmName}\nlocal-hostname: ${vmName}\n`);
      const iso = join(dir, 'seed.iso');
      await execa(
        'genisoimage',
        [
          '-quiet',
          '-output',
          iso,
          '-volid',
          'cidata',
          '-joliet',
          '-rock',
          join(dir, 'user-data'),
          join(dir, 'meta-data'),
        ],
        {
          stdin: 'ignore',
        },
      );
      const size = (await stat(iso)).size;
      await this.b.virsh.run(['vol-create-as', this.b.cfg.pool, name, `${size}B`, '--format', 'raw']);
      await this.b.virsh.run(['vol-upload', name, iso, '--pool', this.b.cfg.pool]);
      return name;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async imagePath(image: string): Promise<{ path: string; format: string }> {
    const [pool, vol] = image.includes('/') ? image.split('/', 2) : [this.b.cfg.imagePool, image];
    const v = parseVolumeXml(await this.b.virsh.run(['vol-dumpxml', vol as string, '--pool', pool as string]));
    return { path: v.path, format: v.format };
  }

  /** What a new domain is made of; the rest (boot kernel, console log, pool, owner) comes from this adapter. */
  async defineOwned(
    name: string,
    parts: (created: string[]) => Promise<Omit<DomainBuild, FixedParts>>,
  ): Promise<Receipt<VmRef>> {
    const { cfg, virsh } = this.b;
    const exists = await virsh.run(['domuuid', name]).then(
      () => true,
      (e) => (e instanceof NotFound ? false : Promise.reject(e)),
    );
    // define with an existing name would silently rewrite that domain, whoever owns it.
    if (exists) throw new Conflict(`a domain named '${name}' already exists`);
    const t0 = performance.now();
    const created: string[] = [];
    try {
      const xml = buildDomainXml({
        ...(await parts(created)),
        name,
        accel: cfg.accel,
        kernel: cfg.kernel,
        initrd: cfg.initrd,
        cmdline: cfg.cmdline,
        consoleLog: join(cfg.consoleDir, `${name}.log`),
        pool: cfg.pool,
        owner: { marker: ownershipMarker, runId: this.b.ctx.runId, createdAt: new Date().toISOString() },
        ownedVolumes: [`${name}-`],
        ...(cfg.emulator ? { emulator: cfg.emulator } : {}),
      });
      await this.b.withTempFile(xml, (p) => virsh.run(['define', p]));
      const id = (await virsh.run(['domuuid', name])).trim();
      const ms = performance.now() - t0;
      return { result: { id, name }, handle: noHandle, acceptedMs: ms, doneMs: ms };
    } catch (e) {
      // A failed create leaves nothing half-made (OBS-03).
      for (const v of created) await this.b.deleteVolumeByName(v).catch(() => undefined);
      throw e;
    }
  }

  async create(spec: VmSpec): Promise<Receipt<VmRef>> {
    this.b.checkPlacement(spec.placement);
    return this.defineOwned(spec.name, async (created) => {
      const backing = await this.imagePath(spec.image);
      const prefix = `${spec.name}-`;
      const disks = [
        {
          volume: await this.b.createVolume(`${prefix}boot`, spec.bootDiskBytes ?? this.b.cfg.bootDiskBytes, backing),
          target: 'vda',
          serial: 'boot',
          format: 'qcow2',
        },
      ];
      created.push(`${prefix}boot`);
      for (const [i, d] of spec.disks.entries()) {
        const volume = d.volumeId
          ? (d.volumeId.split('/').pop() as string)
          : await this.b.createVolume(`${prefix}${d.name}`, d.sizeBytes);
        if (!d.volumeId) created.push(volume);
        const format = d.volumeId ? await this.b.volumeFormat(volume) : this.b.dataFormat;
        disks.push({ volume, target: targetFor(i + 1), serial: d.serial ?? d.name, format });
      }
      if (spec.userData !== undefined) {
        const seed = await this.createSeed(`${prefix}cidata`, spec.name, spec.userData);
        created.push(seed);
        disks.push({ volume: seed, target: 'vdz', serial: 'cidata', format: 'raw' });
      }
      return {
        vcpus: spec.vcpus,
        memoryMiB: spec.memoryMiB,
        disks,
        nics: spec.nics.map((n) => ({ ...n, mac: (n.mac ?? mac()).toLowerCase() })),
        metadata: spec.metadata,
        ...(spec.placement ? { placement: spec.placement } : {}),
        ...(spec.firmware ? { firmware: spec.firmware } : {}),
      };
    });
  }

  private async awaitPower(vm: VmRef, want: VmState['power'], op: WaitOperation): Promise<number> {
    let last = '';
    const { waitedMs } = await waitFor(
      `${vm.name} to be ${want}`,
      this.b.policy(op),
      async () => {
        const s = await this.b.state(vm);
        last = s.raw;
        return s.power === want ? true : undefined;
      },
      { describeLast: () => last },
    );
    return waitedMs;
  }

  private async transition(
    vm: VmRef,
    args: string[],
    want: VmState['power'] | null,
    op: WaitOperation,
  ): Promise<Receipt> {
    const t0 = performance.now();
    await this.b.virsh.run(args);
    const acceptedMs = performance.now() - t0;
    if (want) await this.awaitPower(vm, want, op);
    return { result: undefined, handle: noHandle, acceptedMs, doneMs: performance.now() - t0 };
  }

  start(vm: VmRef): Promise<Receipt> {
    return this.transition(vm, ['start', vm.id], 'running', 'start');
  }

  stop(vm: VmRef, opts: StopOptions): Promise<Receipt> {
    return opts.force
      ? this.transition(vm, ['destroy', vm.id], 'stopped', 'stop-forced')
      : this.transition(vm, ['shutdown', vm.id, '--mode', 'acpi'], 'stopped', 'stop-graceful');
  }

  /** ACPI reboot: libvirt's QEMU driver turns the guest's shutdown into a reset of the same domain. */
  reboot(vm: VmRef): Promise<Receipt> {
    return this.transition(vm, ['reboot', vm.id, '--mode', 'acpi'], null, 'reboot');
  }

  async delete(vm: VmRef): Promise<Receipt> {
    const { b } = this;
    const d = await b.ownedDomain(vm);
    return b.timed(async () => {
      if ((await b.state(vm)).power !== 'stopped') {
        await b.virsh.run(['destroy', vm.id]).catch((e) => (e instanceof Conflict ? undefined : Promise.reject(e)));
      }
      // A UEFI domain's NVRAM file goes with it (libvirt refuses to undefine it otherwise).
      await b.virsh.run(['undefine', vm.id, ...(d.config.firmware === 'uefi' ? ['--nvram'] : [])]);
      // Released with the VM: volumes created for it (named with its creation prefix) still attached.
      const prefixes = d.ownedVolumes;
      for (const disk of d.disksRaw) {
        if (disk.pool === b.cfg.pool && prefixes.some((p) => disk.volume.startsWith(p))) {
          await b.deleteVolumeByName(disk.volume);
        }
      }
      if (d.consoleLog && b.isLocal) await rm(d.consoleLog, { force: true });
      else if (d.consoleLog && b.remoteFiles) await b.remoteFiles.remove(d.consoleLog).catch(() => undefined);
    });
  }

  async rename(vm: VmRef, newName: string): Promise<Receipt<VmRef>> {
    await this.b.ownedDomain(vm);
    const r = await this.b.timed(() => this.b.virsh.run(['domrename', vm.id, newName]));
    return { ...r, result: { id: vm.id, name: newName } };
  }

  async inspect(vm: VmRef): Promise<VmState> {
    const { b } = this;
    const xml = await b.virsh.run(['dumpxml', vm.id]);
    const raw = parseDomainXml(xml);
    const sizes: Record<string, number> = {};
    for (const d of raw.disksRaw) {
      if (!d.pool) continue;
      const v = parseVolumeXml(await b.virsh.run(['vol-dumpxml', d.volume, '--pool', d.pool]));
      sizes[`${d.pool}/${d.volume}`] = v.capacity;
    }
    const parsed = parseDomainXml(xml, sizes);
    const s = await b.state(vm);
    b.hostId ??= parseCapabilities(await b.virsh.run(['capabilities'])).uuid;
    return {
      ref: { id: parsed.uuid, name: parsed.name },
      power: s.power,
      rawState: s.raw,
      // Where the domain is: the host whose daemon holds it and that host's labels, not the requested placement.
      config: {
        ...parsed.config,
        placement: {
          host: b.hostId,
          ...(b.cfg.site ? { site: b.cfg.site } : {}),
          ...(b.cfg.failureDomain ? { failureDomain: b.cfg.failureDomain } : {}),
        },
      },
      source: 'libvirt domain XML (virsh dumpxml) + virsh domstate',
    };
  }

  async list(filter: { owner?: string; metadata?: Record<string, string> }): Promise<VmRef[]> {
    const uuids = await this.b.lines(['list', '--all', '--uuid']);
    const out: VmRef[] = [];
    for (const id of uuids) {
      const d = await this.b
        .domain({ id, name: id })
        .catch((e) => (e instanceof NotFound ? undefined : Promise.reject(e)));
      if (!d) continue;
      if (filter.owner !== undefined && d.config.owner?.runId !== filter.owner) continue;
      if (filter.metadata && !Object.entries(filter.metadata).every(([k, v]) => d.config.metadata[k] === v)) continue;
      out.push({ id: d.uuid, name: d.name });
    }
    return out;
  }

  /** Day-2 CPU and memory change of a stopped VM, written to its persistent definition. */
  async reconfigure(vm: VmRef, change: Resize): Promise<Receipt> {
    const { b } = this;
    const d = await b.ownedDomain(vm);
    if ((await b.state(vm)).power !== 'stopped')
      throw new Conflict(`${vm.name} must be stopped to change CPU or memory`);
    return b.timed(async () => {
      if (change.vcpus !== undefined) {
        const n = String(change.vcpus);
        // The maximum bounds the current count: raise it first, or lower the current count first.
        const order = change.vcpus >= d.config.vcpus ? [['--maximum'], []] : [[], ['--maximum']];
        for (const extra of order) await b.virsh.run(['setvcpus', vm.id, n, '--config', ...extra]);
      }
      if (change.memoryMiB !== undefined) {
        const kib = String(change.memoryMiB * 1024);
        await b.virsh.run(['setmaxmem', vm.id, kib, '--config']);
        await b.virsh.run(['setmem', vm.id, kib, '--config']);
      }
    });
  }
}
