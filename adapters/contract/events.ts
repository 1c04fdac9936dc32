/** The observability concern: events, task handles and logs (OBS-01, OBS-02, OBS-04, INT-03). */
import type { TaskHandle, TaskInfo } from './platform.js';
import type { VmRef } from './vms.js';

export interface PlatformEvent {
  /** Wall-clock ms when the harness received it. */
  receivedAt: number;
  /** The platform's own timestamp, when it has one. */
  platformAt?: string;
  vm?: string;
  kind: 'lifecycle' | 'device' | 'config' | 'task' | 'other';
  /** The platform's task/operation id this event belongs to, when the platform says (INT-03). */
  taskId?: string;
  detail: string;
  source: 'push' | 'poll';
  raw: string;
}

export interface EventOps {
  /**
   * Push where the platform has it, documented polling where not; ends when `signal` aborts.
   * `onSubscribed` is called once the stream is live: a change made after it is delivered, one made
   * before it may not be (a call that answers in milliseconds can beat a subscription being set up).
   */
  events(signal: AbortSignal, onSubscribed?: () => void): AsyncIterable<PlatformEvent>;
  task(handle: TaskHandle): Promise<TaskInfo>;
  /** The VM's console or task log as the platform API serves it (OBS-04). */
  consoleLog(vm: VmRef): Promise<string>;
}
