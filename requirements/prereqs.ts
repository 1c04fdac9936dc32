/**
 * Which requirements a missing lab prerequisite leaves without a verdict: what `preflight` and
 * `evaluate --list` say before a run, and what the suites then report as prereq-missing.
 */
import type { RequirementId } from './registry.js';

/** Keys as in the contract's Capabilities.prereqMissing. */
export const prereqRequirements: Record<string, RequirementId[]> = {
  vlan: ['NIC-04'],
  'second-site': ['MDC-01', 'MDC-02', 'MDC-03', 'MDC-04'],
  'talos-image': ['IMG-04'],
  nats: ['INT-03'],
  // The guest's view of a volume's size (DSK-01's size check, DSK-04's growth in the guest).
  'disk-size': ['DSK-01', 'DSK-04'],
  // Without VM instances every guest-observed claim rests on containers: evidence is container-only.
  'vm-instances': [],
  // KVM changes timings (LC-07, LC-08 figures), not verdicts: recorded, never a missing requirement.
  kvm: [],
};
