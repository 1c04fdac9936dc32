import { describe, expect, it } from 'vitest';
import { requireProof } from '../evidence/checks.js';
import { proofKinds } from '../evidence/verdict.js';
import { proofNeeds } from './proof.js';
import { requirements } from './registry.js';

describe('required proof kinds', () => {
  it('every automatable requirement declares the proof its pass needs; a manual one needs none', () => {
    for (const r of requirements) {
      const needs = proofNeeds[r.id as keyof typeof proofNeeds];
      expect(needs, r.id).toBeDefined();
      if (r.verification === 'manual') expect(needs, r.id).toEqual([]);
      else expect(needs.length, `${r.id} declares no proof kind`).toBeGreaterThan(0);
      for (const k of needs) expect(proofKinds, r.id).toContain(k);
    }
    expect(Object.keys(proofNeeds).sort()).toEqual(requirements.map((r) => r.id).sort());
  });

  it('a pass is partial until its checks cover every required kind', () => {
    for (const r of requirements) {
      const needs = proofNeeds[r.id as keyof typeof proofNeeds];
      if (needs.length === 0) continue;
      const proven = needs.map((proof) => ({ name: `${proof} check`, ok: true, proof }));
      expect(requireProof({ verdict: 'pass' }, proven, needs), r.id).toEqual({ verdict: 'pass' });
      for (const missing of needs) {
        const o = requireProof(
          { verdict: 'pass' },
          proven.filter((c) => c.proof !== missing),
          needs,
        );
        expect(o, `${r.id} without ${missing}`).toMatchObject({ verdict: 'partial', reasonCode: 'proof-missing' });
        expect(o.reason).toContain(`needs ${missing} proof`);
      }
    }
  });

  it('requirements whose claim the guest can observe need guest proof', () => {
    for (const id of ['LC-01', 'LC-02', 'LC-03', 'LC-04', 'INS-02', 'NIC-02', 'IMG-03'] as const)
      expect(proofNeeds[id]).toContain('guest');
  });
});
