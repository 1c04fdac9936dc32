/**
 * INV-02: a full inventory export (hosts, VMs, volumes, NICs with durable ids) reconciles against a
 * system-of-record snapshot, and an out-of-band change made behind the harness's back shows as drift.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe } from 'vitest';
import { exportInventory, parseInventory, reconcile } from '../features/inventory.js';
import { baseSpec, currentRun, ownedVms, requirement } from './harness.js';

describe('inventory reconciliation', () => {
  const vms = ownedVms();

  requirement(
    ['INV-02'],
    'inventory export reconciles against a system of record; out-of-band change is drift',
    async (ctx) => {
      const { t, checks: c } = ctx;
      const scope = { owner: t.runId };
      const a = await vms.create(
        ctx,
        baseSpec(ctx.run, 'inv2a', {
          disks: [{ name: 'data1', sizeBytes: 4 * 1024 * 1024 }],
          nics: [{ network: t.lab.network, mac: '52:54:00:20:00:01' }],
          metadata: { tenant: 'acme', project: 'sor', environment: 'prod', 'sentral-id': 'vm-inv2a' },
        }),
      );
      const b = await vms.create(ctx, baseSpec(ctx.run, 'inv2b'));
      await t.driver.start(a);

      // The system of record: an export written to a file and read back, as an operator would keep it.
      const file = join(await vms.tmp(), 'system-of-record.json');
      await writeFile(file, JSON.stringify(await exportInventory(t.driver, scope), null, 2));
      const record = parseInventory(await readFile(file, 'utf8'), file);
      c.ok('hosts exported with durable ids', record.hosts.length > 0 && record.hosts.every((h) => h.id.length > 0));
      const va = record.vms.find((v) => v.id === a.id);
      c.ok(
        'VMs exported by durable id',
        !!va && record.vms.some((v) => v.id === b.id),
        record.vms.map((v) => v.id).join(','),
      );
      c.eq('placement metadata exported verbatim', va?.metadata, {
        tenant: 'acme',
        project: 'sor',
        environment: 'prod',
        'sentral-id': 'vm-inv2a',
      });
      c.ok('VM placed on a listed host', !!va?.host && record.hosts.some((h) => h.id === va.host), va?.host);
      c.ok(
        "the VM's volumes exported, attached to it",
        (va?.disks ?? []).every((d) => record.volumes.some((v) => v.id === d.volumeId && v.attachedTo.includes(a.id))),
        JSON.stringify(va?.disks),
      );
      c.ok(
        'NICs exported by VM and MAC',
        record.nics.some((n) => n.vm === a.id && n.mac === '52:54:00:20:00:01'),
      );
      c.eq('in step right after the export', reconcile(record, await exportInventory(t.driver, scope)).clean, true);

      if (!t.control.outOfBandStop)
        return c.prereqMissing('out-of-band change', 'the lab gives no way to act behind the harness');
      await t.control.outOfBandStop(a);
      await t.driver.delete(b);
      vms.all.splice(vms.all.indexOf(b), 1);
      const c2 = await vms.create(ctx, baseSpec(ctx.run, 'inv2c'));
      const report = reconcile(record, await exportInventory(t.driver, scope));
      c.eq(
        "the out-of-band stop is drift on the VM's power",
        report.drifted.filter((d) => d.id === a.id).map((d) => [d.field, d.expected, d.actual]),
        [['power', 'running', 'stopped']],
      );
      c.eq(
        'nothing else drifted',
        report.drifted.filter((d) => d.id !== a.id),
        [],
      );
      c.ok(
        'the deleted VM, its volumes and NICs are missing',
        report.missing.some((m) => m.kind === 'vm' && m.id === b.id) &&
          report.missing.some((m) => m.kind === 'volume') &&
          report.missing.some((m) => m.kind === 'nic'),
        JSON.stringify(report.missing),
      );
      c.ok(
        'the VM created since is unexpected',
        report.unexpected.some((u) => u.kind === 'vm' && u.id === c2.id),
        JSON.stringify(report.unexpected),
      );
    },
  );
});

await currentRun();
