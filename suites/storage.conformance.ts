import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { describe } from 'vitest';
import {
  baseSpec,
  currentRun,
  dataDiskSerial,
  fileSha256,
  guestDisk,
  markerUserData,
  ownedVms,
  requirement,
  vmName,
} from './harness.js';

async function firstBytes(path: string, n: number): Promise<Buffer> {
  const f = await open(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    await f.read(buf, 0, n, 0);
    return buf;
  } finally {
    await f.close();
  }
}

describe('storage', () => {
  const vms = ownedVms();

  requirement(['STO-03'], 'storage pools listed with capacity and usage', async (ctx) => {
    const { t, checks: c } = ctx;
    const pools = await t.driver.storagePools();
    c.ok('pools listed', pools.length > 0);
    for (const p of pools.filter((x) => x.active)) {
      c.ok(
        `${p.name}: capacity, allocation and available`,
        p.capacityBytes > 0 && p.allocationBytes >= 0 && p.availableBytes > 0,
        JSON.stringify(p),
      );
      c.ok(
        `${p.name}: allocation + available <= capacity`,
        p.allocationBytes + p.availableBytes <= p.capacityBytes * 1.01,
      );
    }
    const volumes = await t.driver.volumes();
    c.ok(
      'every volume lives in a listed pool',
      volumes.every((v) => pools.some((p) => v.id.startsWith(`${p.name}/`) || v.id === v.name)),
      volumes.map((v) => v.id).join(','),
    );
  });

  requirement(
    ['STO-01'],
    'backup, delete, restore: the restored VM holds the data its guest wrote before, with its metadata',
    async (ctx) => {
      const { t, checks: c } = ctx;
      const metadata = { tenant: 'acme', project: 'backup', environment: 'prod', 'sentral-id': 'vm-sto1-0001' };
      const spec = baseSpec(ctx.run, 'sto1', {
        disks: [{ name: 'data1', sizeBytes: 16 * 1024 * 1024 }],
        userData: markerUserData(),
        metadata,
      });
      const vm = await vms.create(ctx, spec);
      const before = await t.driver.inspect(vm);
      const serial = await dataDiskSerial(ctx, vm, c);
      await t.driver.start(vm);
      const wrote = await guestDisk(ctx, vm, serial, 1);
      // Any boot of this guest may have written it (Nova boots a server at create, before the harness
      // starts it); what matters below is that the same marker comes back.
      c.guest.must(
        'the guest wrote its marker',
        /^VMCDATA:[0-9a-f-]{36}$/.test(wrote.hdr ?? ''),
        JSON.stringify(wrote.hdr),
      );
      await ctx.time('stop-graceful', t.driver.stop(vm, { force: false }));

      const { result: backup } = await ctx.time('backup', t.driver.backup(vm));
      vms.keepBackup(backup.id);
      c.ok('backup names its VM', backup.vm.id === vm.id, JSON.stringify(backup.vm));
      c.ok(
        'backups() lists it',
        (await t.driver.backups()).some((b) => b.id === backup.id),
      );
      c.ok(
        'owned() shows it as a backup of this run',
        (await t.driver.owned()).some((o) => o.kind === 'backup' && o.id === backup.id && o.runId === t.runId),
      );

      await ctx.time('delete', t.driver.delete(vm));
      vms.all.splice(vms.all.indexOf(vm), 1);
      const { result: restored } = await ctx.time(
        'restore',
        t.driver.restore(backup, { name: vmName(ctx.run, 'sto1r') }),
      );
      vms.all.push(restored);
      const after = await t.driver.inspect(restored);
      c.eq('metadata restored verbatim', after.config.metadata, metadata);
      // Disks by role and size: a restored volume is a new volume, and a platform that derives serials
      // from volume ids (Cinder) gives it a new serial; the guest below finds it by the serial read back.
      // NICs by network: the spec declared no MAC, and a restore as a new VM may get new ports (Neutron)
      // with new platform-chosen MACs (recorded); the requirement is the data, which the guest checks below.
      const diskShape = (ds: typeof before.config.disks) => ds.map((d) => [d.role, d.sizeBytes]);
      const shape = (s: typeof before) => [
        s.config.vcpus,
        s.config.memoryMiB,
        s.config.nics.map((n) => n.network),
        diskShape(s.config.disks),
      ];
      c.eq(
        'CPU, memory, NIC networks and disks (role, size) restored',
        shape(after),
        shape(before),
        `MACs ${before.config.nics.map((n) => n.mac).join(',')} -> ${after.config.nics.map((n) => n.mac).join(',')}`,
      );
      c.ok('restored with a durable id', /^[0-9a-f-]{36}$/i.test(restored.id), `${restored.id} (original ${vm.id})`);
      await t.driver.start(restored);
      const read = await guestDisk(ctx, restored, await dataDiskSerial(ctx, restored, c), 1);
      c.guest.ok('the restored VM booted anew (another boot id)', read.bootId !== wrote.bootId, read.bootId);
      c.guest.eq('its data disk holds the marker the first guest wrote', read.hdr, wrote.hdr);

      await ctx.time('delete-backup', t.driver.deleteBackup(backup.id));
      c.ok('deleted backup no longer listed', !(await t.driver.backups()).some((b) => b.id === backup.id));
    },
  );

  requirement(
    ['STO-02'],
    'a disk exports to raw and qcow2 and imports back, proven by content and by the guest',
    async (ctx) => {
      const { t, checks: c } = ctx;
      const dir = await vms.tmp();
      const vm = await vms.create(
        ctx,
        baseSpec(ctx.run, 'sto2', {
          disks: [{ name: 'data1', sizeBytes: 8 * 1024 * 1024 }],
          userData: markerUserData(),
          nics: [],
        }),
      );
      const serial = await dataDiskSerial(ctx, vm, c);
      await t.driver.start(vm);
      const wrote = await guestDisk(ctx, vm, serial, 1);
      // Any boot of this guest may have written it (Nova boots a server at create, before the harness
      // starts it); what matters below is that the same marker comes back.
      c.guest.must(
        'the guest wrote its marker',
        /^VMCDATA:[0-9a-f-]{36}$/.test(wrote.hdr ?? ''),
        JSON.stringify(wrote.hdr),
      );
      await t.driver.stop(vm, { force: false });
      const volumeId = (await t.driver.inspect(vm)).config.disks.find((d) => d.serial === serial)?.volumeId;
      const vid = c.need('the data disk has a volume id', volumeId);

      const raw = await ctx.time(
        'export-raw',
        t.driver.exportVolume(vid, { path: join(dir, 'data.raw'), format: 'raw' }),
      );
      const qcow = await ctx.time(
        'export-qcow2',
        t.driver.exportVolume(vid, { path: join(dir, 'data.qcow2'), format: 'qcow2' }),
      );
      const sized = (await t.driver.inspect(vm)).config.disks.find((d) => d.serial === serial)?.sizeBytes;
      c.eq('raw export has the disk size inspection reports', raw.result.sizeBytes, sized);
      c.eq(
        'raw export starts with the marker',
        (await firstBytes(raw.result.path, wrote.hdr?.length ?? 0)).toString(),
        wrote.hdr,
      );
      c.eq('qcow2 export is a qcow2 file', (await firstBytes(qcow.result.path, 4)).toString('hex'), '514649fb');
      const rawSum = await fileSha256(raw.result.path);

      const imported: string[] = [];
      for (const src of [raw.result, qcow.result]) {
        const r = await ctx.time(
          `import-${src.format}`,
          t.driver.importVolume(vmName(ctx.run, `sto2imp-${src.format}`), src),
        );
        vms.keepVolume(r.result.id);
        imported.push(r.result.id);
        c.eq(`imported ${src.format} has the exported size`, r.result.sizeBytes, raw.result.sizeBytes);
        const back = join(dir, `back-${src.format}.raw`);
        await t.driver.exportVolume(r.result.id, { path: back, format: 'raw' });
        c.eq(`imported ${src.format} reads back identical to the original (sha256)`, await fileSha256(back), rawSum);
      }
      const reader = await vms.create(
        ctx,
        baseSpec(ctx.run, 'sto2r', {
          disks: imported.map((volumeId, i) => ({ name: `imp${i}`, sizeBytes: 0, volumeId })),
          nics: [],
        }),
      );
      await t.driver.start(reader);
      // Each imported volume by the serial inspection reports for it (the platform may choose serials).
      const readerDisks = (await t.driver.inspect(reader)).config.disks;
      for (const [i, fmt] of ['raw', 'qcow2'].entries()) {
        const impSerial = c.need(
          `the disk imported from ${fmt} is attached`,
          readerDisks.find((d) => d.volumeId === imported[i])?.serial,
        );
        const seen = await guestDisk(ctx, reader, impSerial, 1);
        c.guest.eq(`a guest reads the marker from the disk imported from ${fmt}`, seen.hdr, wrote.hdr);
      }
    },
  );
});

await currentRun();
