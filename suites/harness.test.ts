import { describe, expect, it } from 'vitest';
import type { Driver } from '../adapters/contract/index.js';
import type { TimelineEntry } from '../evidence/bundle.js';
import { fixture, type ReqContext, recordTimeline } from './harness.js';

// A driver stand-in with just the calls the timeline watches; power follows start/stop.
function fakeDriver() {
  let power = 'stopped';
  return {
    platform: 'libvirt',
    async start() {
      power = 'running';
      return { result: undefined, handle: { kind: 'none', id: null }, acceptedMs: 1, doneMs: 2 };
    },
    async stop() {
      throw new Error('domain is not running');
    },
    async inspect(vm: { name: string }) {
      return { ref: vm, power };
    },
    async volumes() {
      return [];
    },
  } as unknown as Driver;
}

describe('the per-VM state timeline', () => {
  it('records calls on VMs with the power state read back, inspect only when the state changes, errors too', async () => {
    const timeline: TimelineEntry[] = [];
    const d = recordTimeline(fakeDriver(), timeline);
    const vm = { id: 'u1', name: 'vmc-a' };
    await d.inspect(vm);
    await d.inspect(vm);
    await d.start(vm);
    await d.inspect(vm);
    await expect(d.stop(vm, { force: false })).rejects.toThrow('not running');
    await d.volumes();
    expect(timeline.map((e) => [e.vm, e.op, e.ok, e.power ?? e.detail ?? ''])).toEqual([
      ['vmc-a', 'inspect', true, 'stopped'],
      ['vmc-a', 'start', true, ''],
      ['vmc-a', 'inspect', true, 'running'],
      ['vmc-a', 'stop', false, 'domain is not running'],
    ]);
  });
});

describe('a shared fixture', () => {
  const ctx = {} as ReqContext;

  it('is made on first need, once, and reused', async () => {
    let made = 0;
    const f = fixture(async () => ({ vm: `vm-${++made}` }));
    expect(f.peek()).toBeUndefined();
    const [a, b] = await Promise.all([f.get(ctx), f.get(ctx)]);
    expect(a).toBe(b);
    expect(await f.get(ctx)).toEqual({ vm: 'vm-1' });
    expect(made).toBe(1);
  });

  it('takes what the requirement that tests the making made, and makes anew after forget', async () => {
    let made = 0;
    const f = fixture(async () => ({ vm: `made-${++made}` }));
    const own = f.adopt({ vm: 'by-LC-01' });
    expect(await f.get(ctx)).toBe(own);
    f.forget();
    expect(await f.get(ctx)).toEqual({ vm: 'made-1' });
  });

  it('gives a failed make to every later requirement without trying again', async () => {
    let tries = 0;
    const f = fixture(async () => {
      tries++;
      throw new Error('create refused');
    });
    await expect(f.get(ctx)).rejects.toThrow('create refused');
    await expect(f.get(ctx)).rejects.toThrow('create refused');
    expect(tries).toBe(1);
  });
});
