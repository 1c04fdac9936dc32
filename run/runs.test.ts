import { describe, expect, it } from 'vitest';
import { newRunId, type OwnedObject, runIdPattern } from '../adapters/contract/index.js';
import { decideSweep, runStartedAt } from './runs.js';

const obj = (runId: string, kind: OwnedObject['kind'] = 'vm'): OwnedObject => ({
  kind,
  id: `${runId}-${kind}`,
  name: `vmc-${runId}-x`,
  runId,
});

describe('run ids', () => {
  it('are sortable, parseable and match the pattern', () => {
    const id = newRunId(new Date('2026-11-24T18:47:00Z'), 0x26e8);
    expect(id).toBe('20261124t1847-26e8');
    expect(runIdPattern.test(id)).toBe(true);
    expect(runStartedAt(id)?.toISOString()).toBe('2026-11-24T18:47:00.000Z');
    expect(runStartedAt('fixture')).toBeUndefined();
  });
});

describe('sweep decisions', () => {
  const now = new Date('2026-11-24T20:00:00Z');
  const hour = 3600_000;

  it('removes objects of dead runs older than the threshold', () => {
    const d = decideSweep([obj('20261124t1500-aaaa')], new Set(), now, hour);
    expect(d[0]?.action).toBe('remove');
  });

  it('keeps objects of a run alive on this machine, however old', () => {
    const d = decideSweep([obj('20261124t1500-aaaa')], new Set(['20261124t1500-aaaa']), now, hour);
    expect(d[0]).toMatchObject({ action: 'keep', why: 'its run is alive on this machine' });
  });

  it('keeps young runs it cannot ask (another runner may share the lab host)', () => {
    const d = decideSweep([obj('20261124t1945-bbbb')], new Set(), now, hour);
    expect(d[0]?.action).toBe('keep');
    expect(d[0]?.why).toMatch(/15 min ago/);
  });

  it('with --run removes only that run, and never a live one', () => {
    const objs = [obj('20261124t1945-bbbb'), obj('20261124t1500-aaaa')];
    expect(decideSweep(objs, new Set(), now, hour, '20261124t1945-bbbb').map((x) => x.action)).toEqual([
      'remove',
      'keep',
    ]);
    expect(decideSweep(objs, new Set(['20261124t1945-bbbb']), now, hour, '20261124t1945-bbbb')[0]?.action).toBe('keep');
  });
});
