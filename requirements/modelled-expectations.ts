/**
 * Modelled expectations: behaviour a simulator reproduces on purpose from the platform's own source or
 * documentation, which makes a requirement fail there. It is what a real cluster is expected to do, not
 * something observed on one: the requirement ends `simulated` with the citation, is never listed as a
 * platform finding and never scored as the platform's failure. Any other fail of a simulator stays
 * `fail`: it is a bug in the simulator, the adapter or the suite.
 */
import type { RequirementOutcome } from '../evidence/verdict.js';

export interface ModelledExpectation {
  platform: string;
  requirement: string;
  /** Matched against `<reasonCode>: <reason>` of the outcome, so a different failure stays a fail. */
  reason: RegExp;
  /** What the platform does and why that fails the requirement. */
  why: string;
  /** Upstream file and function (or documentation page) the simulator reproduces. */
  source: string;
}

export const modelledExpectations: ModelledExpectation[] = [
  {
    platform: 'proxmox',
    requirement: 'INV-02',
    // Only volume attachedTo drift (a reused volume id now on the new VM) and, in consequence, the deleted
    // VM's volume not reported missing; any other drift or failed check is not this expectation.
    reason:
      /^check-failed: Failed checks: nothing else drifted: expected \[\], got \[ (\{ kind: 'volume', id: '[^']*vm-\d+-disk-\d+', name: '[^']*', field: 'attachedTo', expected: \[ '[0-9a-f-]{36}' \], actual: \[ '[0-9a-f-]{36}' \] \}(, )?)+ \]; the deleted VM, its volumes and NICs are missing: \[[^\]]*\]$/,
    why: "Proxmox volume ids are not durable: a disk volume is named vm-<VMID>-disk-<n>, and the next free VMID is the lowest unused one, so the next VM after a delete gets the deleted VM's VMID and its volume ids; Proxmox volumes carry no UUID the adapter could report instead.",
    source:
      "pve-manager PVE/API2/Cluster.pm (GET /cluster/nextid: the lowest free VMID); pve-storage PVE/Storage/Plugin.pm get_next_vm_diskname ('vm-$vmid-disk-$n')",
  },
];

/**
 * A simulator's fail that reproduces a listed expectation, as the `simulated` outcome it stands for
 * (the original reason kept in the text); undefined for any other outcome.
 */
export function asModelledExpectation(
  list: readonly ModelledExpectation[],
  platform: string,
  requirements: readonly string[],
  outcome: RequirementOutcome,
): RequirementOutcome | undefined {
  if (outcome.verdict !== 'fail') return undefined;
  const text = `${outcome.reasonCode ?? ''}: ${outcome.reason ?? ''}`;
  const m = list.find((e) => e.platform === platform && requirements.includes(e.requirement) && e.reason.test(text));
  if (!m) return undefined;
  return {
    verdict: 'simulated',
    reasonCode: 'modelled-expectation',
    reason: `Modelled expectation, not a platform finding: the simulator reproduces ${m.source}. ${m.why} On a real cluster this requirement is expected to fail as it did here: ${outcome.reason}`,
  };
}
