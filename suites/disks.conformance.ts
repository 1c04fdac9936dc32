/** DSK-01..05: attach, hot-attach, detach and re-attach with data, grow, and volume inventory. */
import { describe } from 'vitest';
import type { VmRef } from '../adapters/driver.js';
import { lastState } from '../adapters/guest/console.js';
import { baseSpec, bootNumber, currentRun, ownedVms, requirement, waitGuest } from './harness.js';

const MiB = 1024 * 1024;

describe('disks', () => {
  const vms = ownedVms();
  let vm1: VmRef | undefined;
  let dataVolume: string | undefined;
  const marker = `VMCDATA:${process.env.VMCONFORM_RUN_ID ?? 'local'}`;
  const need = () => {
    if (!vm1) throw new Error('depends on DSK-01, which did not produce a VM');
    return vm1;
  };

  requirement(
    ['DSK-01'],
    'attach a new data disk: deterministic target and serial in inspection and in the guest',
    async (ctx) => {
      const { t, checks: c } = ctx;
      // The guest writes a marker to the disk at boot (NoCloud user data); DSK-03 looks for it elsewhere.
      const userData = `#!/bin/sh\nd=$(vmc-disk data1) && printf '${marker}\\n' | dd of=$d conv=notrunc 2>/dev/null && sync\n`;
      vm1 = await vms.create(ctx, baseSpec(ctx.run, 'dk1', { userData }));
      const r = await ctx.time('attach-disk', t.driver.attachDisk(vm1, { name: 'data1', sizeBytes: 32 * MiB }));
      dataVolume = r.result.volumeId;
      const s = await t.driver.inspect(vm1);
      const d = s.config.disks.find((x) => x.serial === 'data1');
      c.eq('attached disk target (first free after boot disk)', d?.target, 'vdb');
      c.eq('attached disk serial', d?.serial, 'data1');
      c.eq('attached disk size', d?.sizeBytes, 32 * MiB);
      await ctx.time('start', t.driver.start(vm1));
      const { value: b } = await waitGuest(ctx, vm1, 'boot with data1', bootNumber(1));
      const g = b.states.at(-1)?.disks.find((x) => x.serial === 'data1');
      c.eq('guest sees data1 with its size', g?.bytes, 32 * MiB);
      c.ok(
        'user data ran in the guest',
        b.userdata?.status === 'ran' && b.userdata.rc === 0,
        JSON.stringify(b.userdata ?? null),
      );
    },
  );

  requirement(['DSK-02'], 'hot-attach to a running VM: the guest sees the disk by serial', async (ctx) => {
    const vm = need();
    const { t, checks: c } = ctx;
    if (!ctx.caps.hotplugDisk) return c.unsupported('disk hot-attach', 'the platform reports no disk hotplug');
    await ctx.time('hot-attach-disk', t.driver.attachDisk(vm, { name: 'hot1', sizeBytes: 16 * MiB }));
    c.ok(
      'inspection shows hot1',
      (await t.driver.inspect(vm)).config.disks.some((d) => d.serial === 'hot1'),
    );
    const { waitedMs } = await waitGuest(ctx, vm, 'hot1 to appear', (r) =>
      lastState(r)?.disks.find((d) => d.serial === 'hot1'),
    );
    ctx.phase('hot-attach-to-guest-sees', waitedMs);
    c.ok('guest sees hot1', true);
  });

  requirement(['DSK-04'], 'grow a disk: the new size shows in inspection and in the guest', async (ctx) => {
    const vm = need();
    const { t, checks: c } = ctx;
    if (ctx.caps.resizeDisk === 'none') return c.unsupported('disk resize', 'the platform reports no disk resize');
    const disks = (await t.driver.inspect(vm)).config.disks;
    const disk = c.need(
      'a data disk to grow',
      disks.find((d) => d.serial === 'hot1') ?? disks.find((d) => d.serial === 'data1'),
    );
    await ctx.time('resize-disk', t.driver.resizeDisk(vm, disk.id, 48 * MiB));
    const after = (await t.driver.inspect(vm)).config.disks.find((d) => d.id === disk.id);
    c.eq('inspection shows the new size', after?.sizeBytes, 48 * MiB);
    if (ctx.caps.resizeDisk === 'online') {
      await waitGuest(ctx, vm, `${disk.serial} to grow`, (r) =>
        lastState(r)?.disks.find((d) => d.serial === disk.serial)?.bytes === 48 * MiB ? true : undefined,
      );
      c.ok('guest sees the new size', true);
    }
  });

  requirement(['DSK-03'], 'detach keeps the volume; it re-attaches to another VM with its data intact', async (ctx) => {
    const vm = need();
    const { t, checks: c } = ctx;
    const before = c.need(
      'data1 attached before detach',
      (await t.driver.inspect(vm)).config.disks.find((d) => d.serial === 'data1'),
    );
    const volumeId = c.need('DSK-01 recorded the data volume', dataVolume);
    const writer = await waitGuest(ctx, vm, 'marker on data1', (r) =>
      lastState(r)?.disks.find((d) => d.serial === 'data1' && d.hdr === marker),
    );
    c.ok('guest wrote the marker to data1', !!writer.value);
    // Stop first: the data must be on disk, and cold detach works on every platform.
    await t.driver.stop(vm, { force: false });
    await ctx.time('detach-disk', t.driver.detachDisk(vm, before.id));
    c.ok(
      'inspection no longer shows data1',
      !(await t.driver.inspect(vm)).config.disks.some((d) => d.serial === 'data1'),
    );
    c.need(
      'volume still exists after detach',
      (await t.driver.volumes()).find((v) => v.id === volumeId),
      volumeId,
    );
    vms.keepVolume(volumeId);
    const vm2 = await vms.create(ctx, baseSpec(ctx.run, 'dk2'));
    await ctx.time('attach-disk', t.driver.attachDisk(vm2, { name: 'data1', sizeBytes: 0, volumeId }));
    await t.driver.start(vm2);
    const { value: b } = await waitGuest(ctx, vm2, 'boot with moved data1', bootNumber(1));
    c.eq("second VM's guest reads the marker", b.states.at(-1)?.disks.find((d) => d.serial === 'data1')?.hdr, marker);
  });

  requirement(['DSK-05'], 'volume inventory: size, format, backing, attached-to for every volume', async (ctx) => {
    const { t, checks: c } = ctx;
    // Its own VM, so the check stands alone: a copy-on-write boot disk and an attached data disk.
    await vms.create(ctx, baseSpec(ctx.run, 'dk5', { disks: [{ name: 'data1', sizeBytes: 4 * MiB }] }));
    const vols = await t.driver.volumes();
    c.ok('volumes listed', vols.length > 0);
    for (const v of vols)
      c.ok(`${v.id}: size and format`, v.sizeBytes > 0 && v.format.length > 0, `${v.sizeBytes} ${v.format}`);
    const owners = new Map(vms.all.map((v) => [v.id, v]));
    for (const vm of vms.all) {
      for (const d of (await t.driver.inspect(vm)).config.disks) {
        const v = vols.find((x) => x.id === d.volumeId);
        c.ok(
          `${d.volumeId} attached-to names ${vm.name}`,
          !!v?.attachedTo.includes(vm.id),
          JSON.stringify(v?.attachedTo),
        );
      }
    }
    const boot = vols.find((v) => v.attachedTo.some((id) => owners.has(id)) && v.backing);
    c.ok('a boot volume shows its backing image', !!boot, 'copy-on-write boot disks name their base image');
  });
});

await currentRun();
