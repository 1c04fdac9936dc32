/** Incus events (pushed over the events websocket), operations as task handles, and the console log. */
import {
  type EventOps,
  NotFound,
  type PlatformEvent,
  type TaskHandle,
  type TaskInfo,
  type VmRef,
} from '../contract/index.js';
import { enc, type IncusBase } from './core.js';
import { parseEvent } from './mapping.js';
import { type IncusOperation, toTaskInfo } from './operations.js';

export class IncusEvents implements EventOps {
  constructor(private readonly b: IncusBase) {}

  async *events(signal: AbortSignal, onSubscribed?: () => void): AsyncIterable<PlatformEvent> {
    const queue: PlatformEvent[] = [];
    let wake: (() => void) | undefined;
    let ended = false;
    const done = this.b.client
      .events(
        signal,
        (text) => {
          const e = parseEvent(text, Date.now());
          if (e) {
            queue.push(e);
            wake?.();
          }
        },
        onSubscribed,
      )
      .finally(() => {
        ended = true;
        wake?.();
      });
    try {
      while (!signal.aborted) {
        const e = queue.shift();
        if (e) {
          yield e;
          continue;
        }
        if (ended) break;
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = undefined;
      }
    } finally {
      await done.catch(() => undefined);
    }
  }

  async task(handle: TaskHandle): Promise<TaskInfo> {
    if (handle.kind !== 'operation' || !handle.id)
      throw new NotFound(`not an Incus operation handle: ${JSON.stringify(handle)}`);
    return toTaskInfo(await this.b.client.sync<IncusOperation>('GET', `/1.0/operations/${enc(handle.id)}`, {}, false));
  }

  consoleLog(vm: VmRef): Promise<string> {
    return this.b.consoleLog(vm);
  }
}
