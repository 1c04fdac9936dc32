/** IMG-03, IMG-05: automated guest initialisation proven by the guest; reproducible provisioning. */
import { createHash } from 'node:crypto';
import { describe } from 'vitest';
import { baseSpec, bootNumber, currentRun, ownedVms, requirement, waitGuest } from './harness.js';

describe('images and provisioning', () => {
  const vms = ownedVms();

  requirement(['IMG-03'], 'declared user data runs in the guest (NoCloud), and the guest proves which', async (ctx) => {
    const { t, checks: c } = ctx;
    const userData = `#!/bin/sh\n# vmconform ${t.runId}\necho "user data for ${t.runId}" > /run/vmc/proof\nexit 0\n`;
    const vm = await vms.create(ctx, baseSpec(ctx.run, 'img3', { userData }));
    await t.driver.start(vm);
    const { value: b } = await waitGuest(ctx, vm, 'boot with user data', bootNumber(1));
    c.eq('guest ran the user data', b.userdata?.status, 'ran');
    c.eq('exit code 0', b.userdata?.rc, 0);
    c.eq(
      'guest ran exactly the declared user data (sha256)',
      b.userdata?.sha256,
      createHash('sha256').update(userData).digest('hex'),
    );
    c.eq('guest saw the instance id', b.metadata?.instanceId, vm.name);
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
    const a = await t.driver.inspect(await vms.create(ctx, spec('img5a')));
    const b = await t.driver.inspect(await vms.create(ctx, spec('img5b')));
    const comparable = (s: typeof a) => ({
      ...s.config,
      owner: s.config.owner?.marker,
      // Volume ids carry the VM's name; everything else must match.
      disks: s.config.disks.map(({ volumeId: _v, ...d }) => d),
    });
    c.eq('config read back identical', comparable(b), comparable(a));
    c.ok('ids differ', a.ref.id !== b.ref.id);
  });
});

await currentRun();
