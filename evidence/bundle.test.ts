import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleSchemaVersion, parseBundle, readBundle } from './bundle.js';
import { registerSecret } from './redact.js';
import { ResultsWriter } from './results.js';
import { makeBundle, testOf } from './testkit.js';

const record = (id: string, verdict: 'pass' | 'fail', evidence: 'real' | 'container-only' = 'real') => {
  const { id: _, timeline, ...t } = testOf(id, { verdict, evidence });
  return { ...t, timeline, state: t.state };
};

describe('the evidence bundle', () => {
  it('ResultsWriter writes a valid bundle with facts, phases, timelines and evidence kinds', async () => {
    const out = await mkdtemp('/tmp/vmconform-bundle-');
    await writeFile(
      join(out, 'platform.json'),
      JSON.stringify({
        info: { platform: 'libvirt', product: 'libvirt', version: '9.0.0', accel: 'tcg', endpoint: 'qemu:///system' },
        hosts: [{ id: 'h1', name: 'host' }],
        capabilities: { evidence: 'real', instanceType: 'vm' },
        configHash: 'abc',
      }),
    );
    const w = new ResultsWriter(out, 'run1', 'libvirt');
    w.add(record('LC-01', 'pass'));
    w.add(record('LC-01', 'pass', 'container-only'));
    w.add(record('LC-02', 'fail'));
    const b = await w.write(true);
    expect(b.schemaVersion).toBe(bundleSchemaVersion);
    expect(b.configHash).toBe('abc');
    expect(b.facts?.info.accel).toBe('tcg');
    expect(b.requirements['LC-01']).toMatchObject({ verdict: 'pass', evidence: 'container-only' });
    expect(b.requirements['LC-01']?.tests).toEqual(['suites/x.conformance.ts#1', 'suites/x.conformance.ts#2']);
    expect(b.requirements['LC-02']?.checks[0]).toMatchObject({ ok: false, test: 'suites/x.conformance.ts#3' });
    expect(b.timings.operations.start?.done.n).toBe(3);
    expect(b.timings.phases['start-to-guest-ready']).toMatchObject({ n: 3, min: 2701, max: 2701 });
    expect(Object.keys(b.timeline)).toEqual(['vmc-1']);
    expect(b.leaks).toBeNull();
    expect(await readBundle(w.path)).toEqual(b);
  });

  it('an interrupted run leaves a valid bundle marked incomplete, with the leak check folded in', async () => {
    const out = await mkdtemp('/tmp/vmconform-bundle-');
    const w = new ResultsWriter(out, 'run2', 'libvirt');
    w.add(record('LC-01', 'pass'));
    await w.write(false);
    const leaks = { before: [], after: [{ kind: 'vm', id: 'u', name: 'vmc-x', runId: 'run2' }], remaining: [] };
    const b = await ResultsWriter.finish(out, 'run2', 'libvirt', leaks, true);
    expect(b.complete).toBe(false);
    expect(b.endedAt).toBeUndefined();
    expect(b.leaks?.after).toHaveLength(1);
    expect((await readBundle(join(out, 'results.json'))).tests).toHaveLength(1);
  });

  it('a run interrupted before any test still gets an (empty, incomplete) bundle', async () => {
    const out = await mkdtemp('/tmp/vmconform-bundle-');
    const b = await ResultsWriter.finish(out, 'run3', 'libvirt', { before: [], after: [], remaining: [] }, true);
    expect(b).toMatchObject({ complete: false, tests: [], facts: null, requirements: {} });
  });

  it('registered secrets never reach the bundle', async () => {
    const out = await mkdtemp('/tmp/vmconform-bundle-');
    registerSecret('canary-bundle-7f3a');
    const w = new ResultsWriter(out, 'run4', 'libvirt');
    const t = record('AUT-01', 'fail');
    t.transcript[0] = {
      ...(t.transcript[0] as (typeof t.transcript)[0]),
      request: 'virsh -c qemu+ssh://canary-bundle-7f3a@h',
    };
    w.add(t);
    await w.write(true);
    const text = await readFile(w.path, 'utf8');
    expect(text).not.toContain('canary-bundle-7f3a');
    expect(text).toContain('[REDACTED]');
  });

  it('rejects a hand-corrupted bundle, naming the file and the path of every bad field', async () => {
    const good = makeBundle('libvirt', { 'LC-01': { verdict: 'pass' } });
    const bad = JSON.parse(JSON.stringify(good));
    bad.requirements['LC-01'].verdict = 'great';
    bad.tests[0].timings[0].doneMs = 'slow';
    delete bad.runId;
    const out = await mkdtemp('/tmp/vmconform-bundle-');
    await writeFile(join(out, 'results.json'), JSON.stringify(bad));
    const err = await readBundle(join(out, 'results.json')).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    expect(msg).toContain(`${out}/results.json: runId:`);
    expect(msg).toContain(`${out}/results.json: requirements.LC-01.verdict:`);
    expect(msg).toContain(`${out}/results.json: tests.0.timings.0.doneMs:`);
  });

  it('rejects another schema version and non-JSON with a clear message', async () => {
    expect(() => parseBundle({ schemaVersion: 1 }, 'old.json')).toThrow(/old\.json: schemaVersion 1 is not supported/);
    const out = await mkdtemp('/tmp/vmconform-bundle-');
    await writeFile(join(out, 'results.json'), '{"schemaVersion": 2,');
    await expect(readBundle(join(out, 'results.json'))).rejects.toThrow(/results\.json: not JSON/);
    await expect(readBundle(join(out, 'missing.json'))).rejects.toThrow(
      /missing\.json: cannot read evidence bundle \(ENOENT\)/,
    );
  });

  it('the writer refuses to write a bundle that does not match the schema', async () => {
    const out = await mkdtemp('/tmp/vmconform-bundle-');
    const w = new ResultsWriter(out, 'run5', 'Not A Platform');
    await expect(w.write(true)).rejects.toThrow(/\(being written\): platform:/);
  });
});
