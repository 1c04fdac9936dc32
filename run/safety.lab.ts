import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { loadLabConfig } from '../adapters/lab-config.js';
import { connectTarget } from '../adapters/platforms.js';
import { NotOwned } from '../evidence/errors.js';
import { Transcript } from '../evidence/transcript.js';
import { cli, foreignDomain, virsh } from './lab-fixtures.js';
import { repoRoot } from './vitest-run.js';

// A name exactly like the harness's own, with a run id that looks long dead: only the missing tag protects it.
const foreign = 'vmc-20200101t0000-dead-foreign';
const deadRun = '20200101t0000-beef';

describe('ownership and sweeping on the real lab', () => {
  // An earlier interrupted run of this test may have left its dead-run VM: that is what sweep is for.
  const foreignVm = foreignDomain(foreign, () => cli('sweep', '--run', deadRun));

  it('refuses to delete, rename or attach to a domain without the ownership tag', async () => {
    const { config } = await loadLabConfig(join(repoRoot, 'lab/lab.local.yaml'));
    const t = await connectTarget('libvirt', config.platforms, { runId: deadRun, transcript: new Transcript() });
    const id = (await virsh('domuuid', foreign)).stdout.trim();
    const ref = { id, name: foreign };
    await expect(t.driver.delete(ref)).rejects.toBeInstanceOf(NotOwned);
    await expect(t.driver.rename(ref, `${foreign}-x`)).rejects.toBeInstanceOf(NotOwned);
    await expect(t.driver.attachDisk(ref, { name: 'd', sizeBytes: 1024 * 1024 })).rejects.toBeInstanceOf(NotOwned);
    expect((await t.driver.owned()).some((o) => o.name === foreign)).toBe(false);
  });

  it('sweeps an owned leftover of a dead run and leaves the foreign domain unchanged', async () => {
    const { config } = await loadLabConfig(join(repoRoot, 'lab/lab.local.yaml'));
    const t = await connectTarget('libvirt', config.platforms, { runId: deadRun, transcript: new Transcript() });
    const left = await t.driver.create({
      name: `vmc-${deadRun}-left`,
      vcpus: 1,
      memoryMiB: 128,
      image: t.lab.image,
      disks: [{ name: 'data1', sizeBytes: 1024 * 1024 }],
      nics: [],
      metadata: {},
    });
    const dry = await cli('sweep', '--run', deadRun, '--dry-run');
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`would remove vm vmc-${deadRun}-left`);
    expect((await virsh('dominfo', left.result.id)).exitCode).toBe(0);

    const sweep = await cli('sweep', '--older-than', '1m');
    expect(sweep.exitCode, sweep.stdout + sweep.stderr).toBe(0);
    expect(sweep.stdout).toContain(`removing vm vmc-${deadRun}-left`);
    expect((await t.driver.owned()).filter((o) => o.runId === deadRun)).toEqual([]);
    expect((await virsh('dumpxml', foreign)).stdout).toBe(foreignVm.xml());
  });
});

describe('faults on the real lab', () => {
  it('libvirtd killed in the middle of an operation: typed error, no hang; after restart the VM is found and removed', async () => {
    const { config } = await loadLabConfig(join(repoRoot, 'lab/lab.local.yaml'));
    const t = await connectTarget('libvirt', config.platforms, { runId: deadRun, transcript: new Transcript() });
    const vm = (
      await t.driver.create({
        name: `vmc-${deadRun}-fault`,
        vcpus: 1,
        memoryMiB: 128,
        image: t.lab.image,
        disks: [],
        nics: [],
        metadata: {},
      })
    ).result;
    try {
      await t.driver.start(vm);
      const pid = Number((await execa('pgrep', ['-x', 'libvirtd'], { reject: false })).stdout.trim().split('\n')[0]);
      expect(pid).toBeGreaterThan(0);
      // A graceful stop waits by polling domstate; the daemon dies under it.
      const started = performance.now();
      const stopping = t.driver.stop(vm, { force: false }).then(
        () => 'completed',
        (e: unknown) => e,
      );
      process.kill(pid, 'SIGKILL');
      const outcome = await stopping;
      const waited = performance.now() - started;
      // The daemon dies milliseconds after the request: the stop cannot have been seen through.
      expect(outcome).not.toBe('completed');
      expect((outcome as { code?: string }).code, String(outcome)).toBe('platform-error');
      expect(String(outcome)).toMatch(/connect|socket|end of file|closed/i);
      expect(waited).toBeLessThan(120_000);
    } finally {
      // Restart the daemon through the lab (it records the new pid), then the VM must still be found and removable.
      const up = await cli('lab', 'up', 'libvirt');
      expect(up.exitCode, up.stderr).toBe(0);
      expect((await t.driver.owned()).some((o) => o.id === vm.id)).toBe(true);
      await t.driver.delete(vm);
      expect((await t.driver.owned()).some((o) => o.runId === deadRun)).toBe(false);
    }
  });
});
