import { describe, expect, it } from 'vitest';
import { callKind, callsPerLifecycle } from './lifecycle.js';

describe('calls per lifecycle', () => {
  it('names a call by what it does, without names or ids', () => {
    expect(callKind('virsh -c qemu:///system domstate 6f1c0a2e-1111-2222-3333-444455556666')).toBe('virsh domstate');
    expect(callKind('GET /1.0/instances/vmc-20261207t0304-6910-h0?project=vmconform&recursion=1')).toBe(
      'GET /1.0/instances/<id>',
    );
    expect(callKind('PUT /1.0/instances/vmc-x-h0/state?project=vmconform {"action":"start"}')).toBe(
      'PUT /1.0/instances/<id>/state (start)',
    );
    expect(callKind('GET /1.0/operations/0c1d2e3f-aaaa-bbbb-cccc-ddddeeeeffff/wait?timeout=120')).toBe(
      'GET /1.0/operations/<id>/wait',
    );
  });

  it('averages the calls over the repetitions and names what the harness adds', () => {
    const v = (sub: string) => `virsh -c qemu:///system ${sub} d1`;
    const c = callsPerLifecycle(
      [
        [v('domuuid'), v('define'), v('start'), v('domstate'), v('domstate')],
        [v('domuuid'), v('define'), v('start'), v('domstate')],
      ],
      [
        [v('define'), v('start'), v('domstate')],
        [v('define'), v('start'), v('domstate')],
      ],
    );
    expect(c.harnessTotal).toBe(4.5);
    expect(c.directTotal).toBe(3);
    expect(c.added).toEqual({ 'virsh domuuid': 1, 'virsh domstate': 0.5 });
    // A direct sequence that records nothing gives the harness's calls alone.
    expect(callsPerLifecycle([[v('start')]], [[]])).toEqual({ harness: { 'virsh start': 1 }, harnessTotal: 1 });
  });
});
