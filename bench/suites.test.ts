import { describe, expect, it } from 'vitest';
import type { Bundle } from '../evidence/bundle.js';
import { bundleBreakdown, isBootCall, labUpTimes, parseTime, verdictLine } from './suites.js';

describe('suite time parsing', () => {
  it('reads /usr/bin/time -f "%e %U %S"', () => {
    expect(parseTime('301.52 120.10 30.05\n')).toEqual({ wallS: 301.52, cpuS: 150.15 });
    // A killed command prefixes a status line; the figures are on the last line.
    expect(parseTime('Command exited with non-zero status 1\n12.00 3.00 1.00\n')).toEqual({ wallS: 12, cpuS: 4 });
    expect(parseTime('')).toBeUndefined();
  });

  it('breaks a bundle down into counts, time in platform calls and the slowest files', () => {
    const test = (
      file: string,
      state: 'passed' | 'failed' | 'skipped',
      durationMs: number,
      api: number[],
      requests: string[] = [],
    ) => ({
      file,
      state,
      durationMs,
      transcript: api.map((d, i) => ({ durationMs: d, request: requests[i] ?? 'virsh -c qemu:///system domstate d1' })),
    });
    const b = {
      facts: { capabilities: { evidence: 'real' } },
      tests: [
        test('suites/lifecycle.conformance.ts', 'passed', 40_000, [100, 200], ['virsh -c qemu:///system start d1']),
        test('suites/lifecycle.conformance.ts', 'failed', 20_000, [700]),
        test(
          'suites/disks.conformance.ts',
          'passed',
          30_000,
          [1000],
          ['virsh -c qemu:///system reboot d2 --mode acpi'],
        ),
        test('suites/images.conformance.ts', 'skipped', 5_000, []),
        test('suites/inventory.conformance.ts', 'passed', 1_000, []),
      ],
    } as unknown as Bundle;
    expect(bundleBreakdown(b)).toEqual({
      counts: { passed: 3, failed: 1, skipped: 1 },
      apiS: 2,
      testsS: 96,
      slowest: [
        { file: 'suites/lifecycle.conformance.ts', seconds: 60, tests: 2 },
        { file: 'suites/disks.conformance.ts', seconds: 30, tests: 1 },
        { file: 'suites/images.conformance.ts', seconds: 5, tests: 1 },
      ],
      evidence: 'real',
      boots: { total: 2, byFile: { 'suites/lifecycle.conformance.ts': 1, 'suites/disks.conformance.ts': 1 } },
    });
  });

  it("finds each platform's verdict line in evaluate's output, and the bring-up its labs recorded", () => {
    const line =
      '[vmconform] incus: 2 requirements: 2 container-only (container-only: passed on containers, not VMs); 0 of 2 tests failed; bundle: /tmp/o/r/incus/results.json';
    expect(verdictLine.exec(line)?.slice(1)).toEqual(['incus', '/tmp/o/r/incus/results.json']);
    expect(verdictLine.test('[vmconform] incus: evaluating incus, run r -> /tmp/o/r/incus')).toBe(false);
    const states = new Map<string, unknown>([
      ['libvirt', { bringUp: { ms: 41_234, cold: true } }],
      ['nats', { bringUp: { ms: 300 } }],
      ['openstack', { bringUpMs: 2_000 }],
    ]);
    const labs: Record<string, string[]> = { libvirt: ['libvirt', 'site-b', 'nats'], openstack: ['openstack', 'nats'] };
    expect(labUpTimes((p) => labs[p] ?? [], states, ['libvirt', 'openstack'])).toEqual({
      labs: {
        libvirt: { seconds: 41.2, cold: true },
        nats: { seconds: 0.3, cold: false },
        openstack: { seconds: 2, cold: false },
      },
      platforms: labs,
    });
  });

  it('counts the calls that boot a guest on each platform', () => {
    for (const boot of [
      'virsh -c qemu:///system start 6f1c',
      'virsh -c qemu+ssh://root@h/system reboot 6f1c --mode acpi',
      'PUT /1.0/instances/vmc-x/state?project=vmconform {"action":"start"}',
      'PUT /1.0/instances/vmc-x/state?project=vmconform {"action":"restart","timeout":60}',
      'POST /api2/json/nodes/pve1/qemu/101/status/start ',
      'POST /compute/v2.1/servers {"server":{"name":"vmc-x"}}',
      'POST /compute/v2.1/servers/0c1d/action {"os-start":null}',
    ])
      expect(isBootCall(boot), boot).toBe(true);
    for (const other of [
      'virsh -c qemu:///system domstate 6f1c',
      'virsh -c qemu:///system shutdown 6f1c --mode acpi',
      'PUT /1.0/instances/vmc-x/state?project=vmconform {"action":"stop","force":true}',
      'POST /api2/json/nodes/pve1/qemu/101/status/stop ',
      'POST /compute/v2.1/servers/0c1d/action {"os-stop":null}',
      'GET /compute/v2.1/servers?name=vmc',
    ])
      expect(isBootCall(other), other).toBe(false);
  });
});
