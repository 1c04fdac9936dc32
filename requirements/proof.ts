/**
 * Which kinds of proof a pass needs, per requirement (evidence/checks.ts records the kind of every check):
 * `api` read back, `guest` observed inside the guest, `event` on the platform's event stream, `host`
 * host-side state. A pass whose checks lack one of these is partial (evidence/results.ts). Where the
 * requirement makes a claim the guest can observe (the declared spec, boot, data on a disk), it needs
 * `guest`, so a platform cannot pass it on what its API says alone. Manual requirements need none.
 */
import type { ProofKind } from '../evidence/verdict.js';
import type { RequirementId } from './registry.js';

const api: ProofKind[] = ['api'];
const apiGuest: ProofKind[] = ['api', 'guest'];

export const proofNeeds: Readonly<Record<RequirementId, readonly ProofKind[]>> = {
  'AUT-01': api,
  'LC-01': apiGuest,
  'LC-02': apiGuest,
  'LC-03': apiGuest,
  'LC-04': apiGuest,
  'LC-05': api,
  'LC-06': api,
  'LC-07': api,
  'LC-08': api,
  'DSK-01': apiGuest,
  'DSK-02': apiGuest,
  'DSK-03': apiGuest,
  'DSK-04': api,
  'DSK-05': api,
  'NIC-01': api,
  'NIC-02': apiGuest,
  'NIC-03': apiGuest,
  'NIC-04': api,
  'NIC-05': apiGuest,
  'NIC-06': ['host'],
  'INS-01': api,
  'INS-02': apiGuest,
  'ID-01': api,
  'ID-02': api,
  'OBS-01': api,
  'OBS-02': ['event'],
  'OBS-03': api,
  'OBS-04': api,
  'INV-01': api,
  'INV-02': api,
  'INV-03': api,
  'INV-04': api,
  'INV-05': [],
  'IMG-01': apiGuest,
  'IMG-02': apiGuest,
  'IMG-03': ['guest'],
  'IMG-04': apiGuest,
  'IMG-05': api,
  'MDC-01': api,
  'MDC-02': api,
  'MDC-03': api,
  'MDC-04': api,
  'STO-01': apiGuest,
  'STO-02': apiGuest,
  'STO-03': api,
  'OPS-01': api,
  'OPS-02': apiGuest,
  'OPS-03': api,
  'OPS-04': api,
  'OPS-05': api,
  'INT-01': api,
  'INT-02': api,
  'INT-03': ['event'],
  'INT-04': [],
  'INT-05': [],
  'COM-01': [],
  'COM-02': [],
  'COM-03': [],
  'COM-04': [],
};
