import { describe, expect, it } from 'vitest';
import type { PlatformEvent } from '../adapters/contract/index.js';
import { registerSecret } from '../evidence/redact.js';
import { BridgeTally, eventMessage, platformTimeMs, receiptMessage, subjectFor } from './bridge-message.js';

const ctx = {
  bridge: 'b1',
  prefix: 'vmconform',
  platform: 'libvirt' as const,
  seq: 7,
  now: Date.UTC(2026, 10, 24, 18, 47, 1),
};

describe('bridge messages', () => {
  it('maps a libvirt lifecycle event line to a message on vmconform.libvirt.lifecycle with the platform time', () => {
    const line = "2026-11-24 18:47:00.250+0000: event 'lifecycle' for domain 'vmc-x-int3': Started Booted";
    // The event as the libvirt adapter parses that line (its own mapping tests prove the parse).
    const ev: PlatformEvent = {
      receivedAt: Date.UTC(2026, 10, 24, 18, 47, 0, 251),
      platformAt: '2026-11-24 18:47:00.250+0000',
      vm: 'vmc-x-int3',
      kind: 'lifecycle',
      detail: 'lifecycle: Started Booted',
      source: 'push',
      raw: line,
    };
    const m = eventMessage(ev, ctx);
    expect(m).toMatchObject({
      v: 1,
      bridge: 'b1',
      seq: 7,
      subject: 'vmconform.libvirt.lifecycle',
      kind: 'lifecycle',
      vm: 'vmc-x-int3',
      vmId: null,
      detail: 'lifecycle: Started Booted',
      source: 'push',
      taskId: null,
      handleKind: null,
      platformAt: '2026-11-24T18:47:00.250Z',
      receivedAt: '2026-11-24T18:47:00.251Z',
      publishedAt: '2026-11-24T18:47:01.000Z',
      raw: line,
    });
    expect(JSON.parse(JSON.stringify(m))).toEqual(m);
  });

  it("carries an event's task id when the platform gives one", () => {
    const m = eventMessage(
      { receivedAt: 0, kind: 'task', taskId: 'UPID:pve1:0001', detail: 'running', source: 'poll', raw: '{}' },
      { ...ctx, platform: 'proxmox' },
    );
    expect([m.subject, m.taskId, m.handleKind, m.platformAt]).toEqual([
      'vmconform.proxmox.task',
      'UPID:pve1:0001',
      'task',
      null,
    ]);
  });

  it('turns a receipt into a task update with the handle, the VM id and the measured durations', () => {
    const vm = { id: '0f1e2d3c-aaaa-bbbb-cccc-000000000001', name: 'vmc-x-a' };
    const m = receiptMessage(
      'start',
      vm,
      { result: undefined, handle: { kind: 'operation', id: 'op-1' }, acceptedMs: 12.4, doneMs: 700.6 },
      { ...ctx, receivedAt: ctx.now - 5 },
    );
    expect(m).toMatchObject({
      subject: 'vmconform.libvirt.task',
      vm: 'vmc-x-a',
      vmId: vm.id,
      taskId: 'op-1',
      handleKind: 'operation',
      op: 'start',
      acceptedMs: 12,
      doneMs: 701,
      source: 'receipt',
    });
    // A platform without handles says so instead of an invented id.
    const none = receiptMessage(
      'create',
      vm,
      { result: vm, handle: { kind: 'none', id: null, note: 'synchronous' }, acceptedMs: 1, doneMs: 1 },
      { ...ctx, receivedAt: ctx.now },
    );
    expect([none.taskId, none.handleKind, none.note]).toEqual([null, 'none', 'synchronous']);
  });

  it('keeps subjects to one token per part and reads libvirt and ISO timestamps, never guessing', () => {
    expect(subjectFor('vmconform', 'incus', 'device')).toBe('vmconform.incus.device');
    expect(subjectFor('a.b', 'incus', 'other')).toBe('a_b.incus.other');
    expect(platformTimeMs('2026-11-24 18:47:00.250+0100')).toBe(Date.UTC(2026, 10, 24, 17, 47, 0, 250));
    expect(platformTimeMs('2026-11-24T18:47:00Z')).toBe(Date.UTC(2026, 10, 24, 18, 47, 0));
    expect(platformTimeMs('yesterday')).toBeUndefined();
    expect(platformTimeMs(undefined)).toBeUndefined();
  });

  it('redacts registered secrets from what it publishes', () => {
    registerSecret('canary-nats-7d1c');
    const m = eventMessage(
      { receivedAt: 0, kind: 'other', detail: 'token canary-nats-7d1c', source: 'push', raw: 'canary-nats-7d1c' },
      ctx,
    );
    expect(JSON.stringify(m)).not.toContain('canary-nats-7d1c');
  });

  it('tallies per subject for the summary', () => {
    const t = new BridgeTally();
    expect(t.summary()).toBe('no messages published');
    t.add({ subject: 'v.l.task', publishedAt: 'A' });
    t.add({ subject: 'v.l.lifecycle', publishedAt: 'B' });
    t.add({ subject: 'v.l.task', publishedAt: 'C' });
    expect(t.summary()).toBe('3 messages (v.l.lifecycle: 1, v.l.task: 2) from A to C');
  });
});
