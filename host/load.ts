/**
 * How busy this machine is, for measurements whose spread the machine's own load can distort (LC-07):
 * the figure is recorded beside the samples, and a spread measured under load is not blamed on the platform.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

export interface MachineLoad {
  /** The kernel's 1-minute load average: runnable and uninterruptible tasks. */
  load1: number;
  cpus: number;
}

export function machineLoad(): MachineLoad {
  const load1 = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  return { load1, cpus: availableParallelism() };
}

/** More runnable work than 1.5 times the cores: timers and guests wait for a CPU, whatever the platform does. */
export const overloaded = (l: MachineLoad) => l.load1 > 1.5 * l.cpus;
