/**
 * Two evaluations at once against the same lab do not interfere: distinct run ids, names, tags and
 * output folders, each complete with its own results, neither acting on the other's objects, and a
 * foreign VM named like the harness's own unchanged through both and a sweep.
 * The filter avoids ID-01/OPS-04/OPS-01, which restart or stop the daemon; runs sharing a lab with
 * those need `labControl: false`.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, foreignDomain, virsh } from './lab-fixtures.js';

const foreign = 'vmc-20200101t0000-cafe-twins';

/** virsh calls that change something; reading (list, dumpxml, metadata) another run's objects is not touching them. */
const mutating =
  /^virsh -c \S+ (define|undefine|start|destroy|shutdown|reboot|domrename|attach-device|detach-device|detach-disk|detach-interface|blockresize|vol-create-as|vol-delete|vol-resize|vol-upload|metadata \S+ --set)/;

interface Entry {
  request: string;
  response: string;
}

/** The run's id and folder from its progress line (stderr). */
async function runOf(stderr: string) {
  const m = /evaluating libvirt, run (\S+) -> (\S+)/.exec(stderr);
  if (!m) throw new Error(`no run line in:\n${stderr}`);
  const [, runId, out] = m as unknown as [string, string, string];
  const results = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as {
    runId: string;
    complete: boolean;
    requirements: Record<string, { verdict: string }>;
    tests: { transcript: Entry[] }[];
  };
  const leaks = JSON.parse(await readFile(join(out, 'leaks.json'), 'utf8')) as { after: unknown[] };
  const transcript = results.tests.flatMap((t) => t.transcript);
  // The UUIDs of what this run created, as the platform answered when the run asked for them by name.
  const uuids = transcript
    .filter((e) => new RegExp(`domuuid vmc-${runId}-`).test(e.request))
    .map((e) => e.response.trim())
    .filter((u) => /^[0-9a-f-]{36}$/.test(u));
  return { runId, out, results, leaks, transcript, uuids };
}

describe('two runs at once', () => {
  const foreignVm = foreignDomain(foreign);

  it('complete with their own results and never act on each other', async () => {
    const out = await mkdtemp('/tmp/vmconform-twins-out-');
    const args = ['evaluate', '-p', 'libvirt', '-r', 'LC-01|DSK-01', '--no-lab', '-o', out];
    const [a, b] = await Promise.all([cli(...args), cli(...args)]);
    expect(a.exitCode, a.stdout + a.stderr).toBe(0);
    expect(b.exitCode, b.stdout + b.stderr).toBe(0);
    const ra = await runOf(a.stderr);
    const rb = await runOf(b.stderr);
    expect(ra.runId).not.toBe(rb.runId);
    expect(ra.out).not.toBe(rb.out);
    for (const r of [ra, rb]) {
      expect(r.results.runId).toBe(r.runId);
      expect(r.results.complete).toBe(true);
      expect(Object.fromEntries(Object.entries(r.results.requirements).map(([k, v]) => [k, v.verdict]))).toEqual({
        'LC-01': 'pass',
        'DSK-01': 'pass',
      });
      expect(r.leaks.after).toEqual([]);
      expect(r.uuids.length).toBeGreaterThan(0);
    }
    for (const [self, other] of [
      [ra, rb],
      [rb, ra],
    ] as const) {
      const acted = self.transcript.filter((e) => mutating.test(e.request));
      expect(acted.length).toBeGreaterThan(0);
      const onOther = acted.filter(
        (e) =>
          e.request.includes(`vmc-${other.runId}-`) ||
          other.uuids.some((u) => e.request.includes(u)) ||
          e.request.includes(foreign),
      );
      expect(onOther.map((e) => e.request)).toEqual([]);
    }

    // Each run's sweep has nothing left to do, and the foreign VM is unchanged after both runs and the sweeps.
    for (const r of [ra, rb]) {
      const sweep = await cli('sweep', '-p', 'libvirt', '--run', r.runId);
      expect(sweep.exitCode, sweep.stdout + sweep.stderr).toBe(0);
      expect(sweep.stdout).toContain('libvirt: 0 to remove');
    }
    expect((await virsh('dumpxml', foreign)).stdout).toBe(foreignVm.xml());
  });
});
