import { expect, test } from 'vitest';
import { planLines } from './evaluate-list.js';

test('a plan prints what would run, what ends prereq-missing, what is left out and why', () => {
  expect(
    planLines({
      platform: 'proxmox',
      endpoint: 'https://pve:8006',
      run: ['LC-01', 'NIC-04'],
      prereqMissing: [{ id: 'NIC-04', because: ['lab prerequisite: vlan: no guest traffic'] }],
      noTest: ['COM-01'],
      skipped: [
        { id: 'LC-02', why: 'skip' },
        { id: 'DSK-01', why: 'not-selected' },
      ],
      notes: [],
    }),
  ).toEqual([
    'proxmox (https://pve:8006)',
    '  would run (2): LC-01 NIC-04',
    '  will end prereq-missing: NIC-04 (lab prerequisite: vlan: no guest traffic)',
    '  no test, assessment only (1): COM-01',
    '  skipped by --skip (1): LC-02',
    '  not selected (1): DSK-01',
  ]);
});
