import { expect, test } from 'vitest';
import { machineLoad, overloaded } from './load.js';

test('the load is read from the kernel, and more than 1.5 runnable tasks per core is overloaded', () => {
  const l = machineLoad();
  expect(l.cpus).toBeGreaterThan(0);
  expect(Number.isFinite(l.load1)).toBe(true);
  expect(overloaded({ load1: 3.1, cpus: 2 })).toBe(true);
  expect(overloaded({ load1: 3, cpus: 2 })).toBe(false);
});
