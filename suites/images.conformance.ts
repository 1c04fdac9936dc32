/**
 * IMG-01..05: base images imported through the API, immutable versions, guest initialisation and Talos
 * prerequisites proven by the guest, reproducible provisioning.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe } from 'vitest';
import { Conflict, Unsupported, type VmRef } from '../adapters/contract/index.js';
import { diskBySerial } from '../host/guest/report.js';
import {
  baseSpec,
  bootNumber,
  currentRun,
  fileSha256,
  guestDisk,
  imageFile,
  ownedVms,
  type ReqContext,
  requirement,
  stopNow,
  vmName,
  waitGuest,
} from './harness.js';

/** The serial inspection reports for a VM's boot disk (the platform may have chosen it). */
const bootSerial = async (ctx: ReqContext, vm: VmRef) =>
  ctx.checks.need(
    `inspection of ${vm.name} shows its boot disk`,
    (await ctx.t.driver.inspect(vm)).config.disks.find((d) => d.role === 'boot')?.serial,
  );

/** The first line of the boot disk as the guest read it, in its boot number `n`. */
const bootedImage = async (ctx: ReqContext, vm: VmRef, n: number) =>
  (await guestDisk(ctx, vm, await bootSerial(ctx, vm), n)).hdr;

describe('images and provisioning', () => {
  const vms = ownedVms();

  requirement(
    ['IMG-01'],
    'a base image imported through the API is listed, reads back intact and boots; listed with a checksum',
    async (ctx) => {
      const { t, checks: c } = ctx;
      const dir = await vms.tmp();
      const src = await imageFile(dir, 'img1-v1');
      const name = vmName(ctx.run, 'img1');
      const r = await ctx.time(
        'import-image',
        t.driver.importImage({ name, version: '1', path: src.path, format: 'raw', sha256: src.sha256 }),
      );
      vms.keepImage(r.result.id);
      const listed = (await t.driver.images()).find((i) => i.id === r.result.id);
      c.eq('listed with its name and version', [listed?.name, listed?.version], [name, '1']);
      c.eq('listed with its size', listed?.sizeBytes, 1024 * 1024);
      // What the platform holds, read back through its API, is exactly what was declared.
      const back = join(dir, 'read-back.raw');
      await ctx.time('export-image', t.driver.exportVolume(r.result.id, { path: back, format: 'raw' }));
      c.eq('reads back through the API with the declared sha256', await fileSha256(back), src.sha256);
      const vm = await vms.create(ctx, baseSpec(ctx.run, 'img1', { image: r.result.id, nics: [] }));
      await t.driver.start(vm);
      c.guest.eq('a VM boots it (the guest reads its header)', await bootedImage(ctx, vm, 1), 'VMCIMG:img1-v1');
      if (listed?.checksum) {
        c.eq('the platform lists the declared sha256', listed.checksum, { algorithm: 'sha256', value: src.sha256 });
      } else {
        c.unsupported(
          'the platform lists the image with a checksum',
          'images are listed without any checksum: the platform keeps none (the harness verified the upload by reading it back, which the platform does not do)',
        );
      }
    },
  );

  requirement(
    ['IMG-02'],
    'publishing a new version of a name leaves existing VMs and the old version booting what they booted',
    async (ctx) => {
      const { t, checks: c } = ctx;
      const dir = await vms.tmp();
      const name = vmName(ctx.run, 'img2');
      const publish = async (version: string, label: string) => {
        const src = await imageFile(dir, label);
        const r = await ctx.time(
          'import-image',
          t.driver.importImage({ name, version, path: src.path, format: 'raw', sha256: src.sha256 }),
        );
        vms.keepImage(r.result.id);
        return { ...r.result, src };
      };
      const v1 = await publish('1', 'img2-v1');
      const a = await vms.create(ctx, baseSpec(ctx.run, 'img2a', { image: v1.id, nics: [] }));
      await t.driver.start(a);
      c.guest.eq('VM a boots version 1', await bootedImage(ctx, a, 1), 'VMCIMG:img2-v1');
      await stopNow(t.driver, a);

      const v2 = await publish('2', 'img2-v2');
      c.ok('version 2 is a new image, not an update of version 1', v2.id !== v1.id, `${v1.id} / ${v2.id}`);
      const again = await t.driver
        .importImage({ name, version: '1', path: v2.src.path, format: 'raw', sha256: v2.src.sha256 })
        .then(
          (r) => {
            vms.keepImage(r.result.id);
            return 'accepted';
          },
          (e: unknown) => (e instanceof Conflict ? `refused: ${e.message}` : `untyped: ${String(e)}`),
        );
      c.ok('republishing version 1 with other content is refused (typed)', again.startsWith('refused'), again);
      const versions = (await t.driver.images())
        .filter((i) => i.name === name)
        .map((i) => i.version)
        .sort();
      c.eq('both versions listed under the name', versions, ['1', '2']);

      const b = await vms.create(ctx, baseSpec(ctx.run, 'img2b', { image: v2.id, nics: [] }));
      const old = await vms.create(ctx, baseSpec(ctx.run, 'img2c', { image: v1.id, nics: [] }));
      for (const vm of [a, b, old]) await t.driver.start(vm);
      c.guest.eq(
        'VM a still boots version 1 after version 2 was published',
        await bootedImage(ctx, a, 2),
        'VMCIMG:img2-v1',
      );
      c.guest.eq('a new VM from version 2 boots version 2', await bootedImage(ctx, b, 1), 'VMCIMG:img2-v2');
      c.guest.eq('a new VM from version 1 still boots version 1', await bootedImage(ctx, old, 1), 'VMCIMG:img2-v1');
      if (ctx.caps.imageVersions !== 'platform') {
        c.unsupported(
          'the platform itself keeps immutable versions',
          'the platform has no image versions: they are a naming convention of the adapter, and the platform would let an upload overwrite a published image in place',
        );
      }
    },
  );

  requirement(
    ['IMG-04'],
    'Talos prerequisites: UEFI boot, virtio disk and NIC, user-data delivery, proven by the guest',
    async (ctx) => {
      const { t, checks: c } = ctx;
      const userData = `#!/bin/sh\necho talos-prereq > /run/vmc/proof\n`;
      const mac = '52:54:00:40:00:01';
      const vm = await vms.create(
        ctx,
        baseSpec(ctx.run, 'img4', {
          firmware: 'uefi',
          userData,
          disks: [{ name: 'data1', sizeBytes: 8 * 1024 * 1024 }],
          nics: [{ network: t.lab.network, mac }],
        }),
      );
      const s = await t.driver.inspect(vm);
      const serials = ['boot', 'data'].map((role) => s.config.disks.find((d) => d.role === role)?.serial);
      c.eq('firmware read back', s.config.firmware, 'uefi');
      c.eq(
        'NIC model',
        s.config.nics.map((n) => n.model),
        ['virtio'],
      );
      const r = await ctx.time('start', t.driver.start(vm));
      const { value: b, waitedMs } = await waitGuest(ctx, vm, 'UEFI boot', bootNumber(1));
      ctx.phase('start-to-guest-ready (uefi)', r.doneMs + waitedMs);
      c.guest.eq('the guest was started by UEFI firmware', b.ready.firmware, 'uefi');
      const state = b.states.at(-1);
      c.guest.ok(
        'the guest sees its disks on virtio-blk (boot and data by serial)',
        !!state && serials.every((x) => x !== undefined && diskBySerial(state, x)?.name.startsWith('vd')),
        JSON.stringify(state?.disks),
      );
      c.guest.ok(
        'the guest sees its virtio NIC by MAC',
        !!state?.nics.some((n) => n.mac === mac),
        JSON.stringify(state?.nics),
      );
      c.guest.eq(
        'user data delivered and run (sha256 as declared)',
        [b.userdata?.status, b.userdata?.rc, b.userdata?.sha256],
        ['ran', 0, createHash('sha256').update(userData).digest('hex')],
      );
      if (!t.lab.talosImage) {
        return c.prereqMissing(
          'boots a supplied Talos image',
          ctx.caps.prereqMissing['talos-image'] ?? 'the lab config names no Talos image',
        );
      }
      throw new Unsupported(
        `booting the Talos image ${t.lab.talosImage} (its own bootloader instead of the harness guest) is not implemented yet`,
        'adapter',
      );
    },
  );

  requirement(['IMG-03'], 'declared user data runs in the guest (NoCloud), and the guest proves which', async (ctx) => {
    const { t, checks: c } = ctx;
    const userData = `#!/bin/sh\n# vmconform ${t.runId}\necho "user data for ${t.runId}" > /run/vmc/proof\nexit 0\n`;
    const vm = await vms.create(ctx, baseSpec(ctx.run, 'img3', { userData }));
    await t.driver.start(vm);
    const { value: b } = await waitGuest(ctx, vm, 'boot with user data', bootNumber(1));
    c.guest.eq('guest ran the user data', b.userdata?.status, 'ran');
    c.guest.eq('exit code 0', b.userdata?.rc, 0);
    c.guest.eq(
      'guest ran exactly the declared user data (sha256)',
      b.userdata?.sha256,
      createHash('sha256').update(userData).digest('hex'),
    );
    // The instance id is the platform's choice (NoCloud: often the name; config drive: the server uuid):
    // it must name this VM, by name or by id.
    c.guest.ok(
      'guest saw an instance id naming this VM',
      [vm.name, vm.id].includes(b.metadata?.instanceId ?? ''),
      `${b.metadata?.instanceId} (name ${vm.name}, id ${vm.id})`,
    );
  });

  requirement(['IMG-05'], 'the same declared spec provisioned twice reads back identical, ids aside', async (ctx) => {
    const { t, checks: c } = ctx;
    const spec = (suffix: string) =>
      baseSpec(ctx.run, suffix, {
        vcpus: 2,
        memoryMiB: 192,
        disks: [{ name: 'data1', sizeBytes: 8 * 1024 * 1024 }],
        nics: [{ network: t.lab.network, mac: '52:54:00:50:00:01' }],
        metadata: { tenant: 'acme', project: 'repro', environment: 'test' },
      });
    // One after the other: a caller-chosen MAC is unique on a network (Neutron refuses a duplicate), so
    // the second provisioning of the same spec comes after the first is read back and deleted.
    const first = await vms.create(ctx, spec('img5a'));
    const a = await t.driver.inspect(first);
    await ctx.time('delete', t.driver.delete(first));
    vms.all.splice(vms.all.indexOf(first), 1);
    const b = await t.driver.inspect(await vms.create(ctx, spec('img5b')));
    const comparable = (s: typeof a) => ({
      ...s.config,
      owner: s.config.owner?.marker,
      // Volume ids carry the VM's name or are uuids; a disk id or serial made from the volume id is an id too.
      disks: s.config.disks.map(({ volumeId, ...d }) => {
        const v = volumeId.slice(volumeId.lastIndexOf('/') + 1);
        return {
          ...d,
          id: v.startsWith(d.id) ? '<volume id>' : d.id,
          serial: v.startsWith(d.serial) ? '<volume id>' : d.serial,
        };
      }),
    });
    c.eq('config read back identical', comparable(b), comparable(a));
    c.ok('ids differ', a.ref.id !== b.ref.id);
  });
});

await currentRun();
