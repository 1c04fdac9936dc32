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

/**
 * As much runnable work as there are cores: every wake-up may wait a scheduler period for a CPU, whatever
 * the platform does. (CI's Incus LC-07 failed at load 2.0 on 2 cores on a delete spread of 41 ms over a
 * 26 ms median, with the idle OpenStack lab's services the rest of the load; 1.5 times the cores let it count.)
 */
export const overloaded = (l: MachineLoad) => l.load1 >= l.cpus;
