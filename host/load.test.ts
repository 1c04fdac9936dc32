import { expect, test } from 'vitest';
import { machineLoad, overloaded } from './load.js';

test('the load is read from the kernel, and as many runnable tasks as cores is overloaded', () => {
  const l = machineLoad();
  expect(l.cpus).toBeGreaterThan(0);
  expect(Number.isFinite(l.load1)).toBe(true);
  expect(overloaded({ load1: 2, cpus: 2 })).toBe(true);
  expect(overloaded({ load1: 1.9, cpus: 2 })).toBe(false);
});
