/**
 * `vmconform preflight -p proxmox` against the simulator: a full token finds nothing missing; a reduced
 * token (no Sys.Audit anywhere) on a node whose snippet storage lacks the snippets content type gets
 * exactly those findings, each with the calls it breaks and the requirements it costs.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { Transcript } from '../../evidence/transcript.js';
import { ProxmoxClient } from './client.js';
import { preflightUses, proxmoxPreflight } from './preflight.js';
import { releaseModes } from './simulator/behaviours.js';
import { allPrivileges, type SimulatorOptions } from './simulator/simulator.js';
import { simulatorTestbed } from './simulator/testbed.js';

const bed = simulatorTestbed('pve-preflight');
const clients: ProxmoxClient[] = [];
afterAll(async () => {
  for (const c of clients) await c.close();
  await bed.close();
});

async function run(
  version: string,
  over: Partial<SimulatorOptions> = {},
  setup?: (sim: { setStorageContent(s: string, c: string): void }) => void,
) {
  const { sim, config } = await bed.start(version, over);
  setup?.(sim);
  const api = new ProxmoxClient({ ...config, transcript: new Transcript() });
  clients.push(api);
  const checks = await proxmoxPreflight(api, { ...config, image: 'base', network: 'vmbr0', network2: 'vmbr1' });
  const failed = checks.filter((c) => !c.ok);
  // As run/preflight.ts counts it: the requirements the failed checks leave without a verdict.
  return { checks, failed, cost: [...new Set(failed.flatMap((c) => c.affects))].sort() };
}

describe('proxmox preflight', () => {
  test.each(Object.entries(releaseModes))(
    'PVE %s, a token with every privilege: nothing missing',
    async (_r, version) => {
      const { checks, failed } = await run(version);
      expect(failed).toEqual([]);
      expect(checks.map((c) => c.name)).toContain('privilege VM.Clone on /vms/9000');
      expect(checks.find((c) => c.name === 'PVE release')?.detail).toMatch(new RegExp(`^${version}:`));
    },
  );

  test('PVE 8.4 checks VM.Monitor for the guest agent, 9.x the VM.GuestAgent privileges', async () => {
    const names = async (v: string) =>
      (await run(v)).checks.map((c) => c.name).filter((n) => /Monitor|GuestAgent/.test(n));
    expect(await names('8.4.1')).toEqual(['privilege VM.Monitor on /vms']);
    expect(await names('9.2.11')).toEqual([
      'privilege VM.GuestAgent.Audit or VM.GuestAgent.Unrestricted on /vms',
      'privilege VM.GuestAgent.FileRead or VM.GuestAgent.Unrestricted on /vms',
    ]);
  });

  test('a reduced token (no Sys.Audit) and no snippets storage: exactly what is missing and what it costs', async () => {
    const { failed, cost } = await run(
      '9.2.11',
      { acl: { '/': allPrivileges.filter((p) => p !== 'Sys.Audit') } },
      (sim) => sim.setStorageContent('local', 'iso,vztmpl,backup'),
    );
    expect(failed).toEqual([
      {
        name: 'privilege Sys.Audit on /nodes/pve1',
        ok: false,
        detail:
          "missing: breaks GET /nodes/{node}/status (hypervisor version), /cluster/resources node figures (host capacity), other users' tasks",
        affects: ['INV-01', 'INV-04'],
      },
      {
        name: 'privilege Sys.Audit on /',
        ok: false,
        detail:
          'missing: breaks GET /cluster/options user-tag-access and registered-tags (the tag policy); /cluster/tasks (not used: tasks are read per node)',
        affects: [],
      },
      {
        name: 'storage local holds snippets',
        ok: false,
        detail: 'content iso,vztmpl,backup',
        affects: ['DSK-01', 'DSK-02', 'DSK-03', 'DSK-04', 'IMG-03', 'IMG-04', 'STO-01', 'STO-02'],
      },
    ]);
    expect(cost).toEqual([
      'DSK-01',
      'DSK-02',
      'DSK-03',
      'DSK-04',
      'IMG-03',
      'IMG-04',
      'INV-01',
      'INV-04',
      'STO-01',
      'STO-02',
    ]);
  });

  test('the ownership tags: unconfirmed without Sys.Audit or Sys.Modify on /, refused by a restrictive tag policy', async () => {
    const noRoot = allPrivileges.filter((p) => p !== 'Sys.Audit' && p !== 'Sys.Modify');
    const tags = (checks: { name: string }[]) => checks.find((c) => c.name.startsWith('ownership tags'));
    expect(tags((await run('9.2.11', { acl: { '/': noRoot } })).checks)).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/^unconfirmed: /),
      affects: [],
    });
    const datacenter = { 'user-tag-access': { 'user-allow': 'existing' }, 'registered-tags': ['vmconform'] };
    const refused = await run('9.2.11', { acl: { '/': [...noRoot, 'Sys.Audit'] }, datacenter });
    expect(tags(refused.checks)).toEqual({
      name: 'ownership tags (vmconform, vmc-run.<run id>)',
      ok: false,
      detail:
        'user-tag-access user-allow=existing refuses a new run tag; registered-tags holds vmconform (and the token lacks Sys.Modify on /): every create is refused',
      affects: preflightUses.vm,
    });
  });
});
