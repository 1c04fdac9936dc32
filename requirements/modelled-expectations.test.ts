import { describe, expect, test } from 'vitest';
import { asModelledExpectation, modelledExpectations } from './modelled-expectations.js';
import { requirements } from './registry.js';

describe('modelled expectations', () => {
  const drift = (field: string) =>
    `{ kind: 'volume', id: 'local-lvm:base-9000-disk-0/vm-101-disk-0', name: 'local-lvm:base-9000-disk-0/vm-101-disk-0', field: '${field}', expected: [ '588fd16f-31d7-4046-aced-1d5c7b9c786b' ], actual: [ '76a44393-b69b-41c0-b7ac-04b9f9e39534' ] }`;
  const out = (field: string) =>
    ({
      verdict: 'fail',
      reasonCode: 'check-failed',
      reason: `Failed checks: nothing else drifted: expected [], got [ ${drift(field)} ]; the deleted VM, its volumes and NICs are missing: [{"kind":"vm","id":"x"}]`,
    }) as const;

  test("Proxmox INV-02's reused volume id is simulated with its citation, never a fail", () => {
    const o = asModelledExpectation(modelledExpectations, 'proxmox', ['INV-02'], out('attachedTo'));
    expect(o?.verdict).toBe('simulated');
    expect(o?.reasonCode).toBe('modelled-expectation');
    expect(o?.reason).toMatch(/not a platform finding: the simulator reproduces pve-manager .*get_next_vm_diskname/);
    expect(o?.reason).toContain(out('attachedTo').reason);
  });

  test('any other failure stays what it was: another field, platform or requirement, or not a fail', () => {
    expect(asModelledExpectation(modelledExpectations, 'proxmox', ['INV-02'], out('sizeBytes'))).toBeUndefined();
    expect(asModelledExpectation(modelledExpectations, 'openstack', ['INV-02'], out('attachedTo'))).toBeUndefined();
    expect(asModelledExpectation(modelledExpectations, 'proxmox', ['INV-01'], out('attachedTo'))).toBeUndefined();
    const error = { ...out('attachedTo'), verdict: 'error' } as const;
    expect(asModelledExpectation(modelledExpectations, 'proxmox', ['INV-02'], error)).toBeUndefined();
  });

  test('each names a real requirement, what the platform does and the upstream source', () => {
    const ids = new Set(requirements.map((r) => r.id));
    for (const e of modelledExpectations) {
      expect(ids.has(e.requirement), e.requirement).toBe(true);
      expect(e.why.length).toBeGreaterThan(40);
      expect(e.source).toMatch(/\.(pm|pl|py|c|go|rst|html)\b/);
    }
  });
});
