/** What happened on the platform: polled server status changes, Nova instance actions, the console log. */
import {
  type EventOps,
  NotFound,
  type PlatformEvent,
  type TaskHandle,
  type TaskInfo,
  type VmRef,
} from '../contract/index.js';
import type { OpenStackBase } from './core.js';
import { actionStatus, type InstanceAction, type NovaServer } from './mapping.js';

export class OpenStackEvents implements EventOps {
  constructor(private readonly os: OpenStackBase) {}

  async consoleLog(vm: VmRef): Promise<string> {
    return this.os.consoleText(vm.id);
  }

  /** Nova offers no event stream to API clients: poll servers and report each status change as it is seen. */
  async *events(signal: AbortSignal, onSubscribed?: () => void): AsyncIterable<PlatformEvent> {
    const seen = new Map<string, { status: string; name: string }>();
    const since = new Date(Date.now() - 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    let first = true;
    while (!signal.aborted) {
      const servers = await this.os.list<NovaServer>('compute', '/servers/detail', 'servers').catch(() => undefined);
      if (servers) {
        const now = new Set<string>();
        for (const s of servers) {
          now.add(s.id);
          const status = `${s.status}${s['OS-EXT-STS:task_state'] ? `/${s['OS-EXT-STS:task_state']}` : ''}`;
          const before = seen.get(s.id);
          seen.set(s.id, { status, name: s.name });
          // On the first poll only servers created since the subscription are news.
          if ((first && !(s.created && s.created >= since)) || before?.status === status) continue;
          const detail = !before
            ? 'defined'
            : before.status.startsWith('BUILD')
              ? 'built'
              : s.status === 'ACTIVE' && !s['OS-EXT-STS:task_state']
                ? 'started'
                : s.status === 'SHUTOFF' && !s['OS-EXT-STS:task_state']
                  ? 'stopped'
                  : status.toLowerCase();
          yield {
            receivedAt: Date.now(),
            ...(s.updated ? { platformAt: s.updated } : {}),
            vm: s.name,
            // A server appearing is a lifecycle change (created), as libvirt's "defined" is.
            kind: 'lifecycle',
            detail,
            source: 'poll',
            raw: `${s.id} ${before?.status ?? '-'} -> ${status}`,
          };
        }
        for (const [id, v] of seen)
          if (!now.has(id)) {
            seen.delete(id);
            if (!first)
              yield {
                receivedAt: Date.now(),
                vm: v.name,
                kind: 'lifecycle',
                detail: 'deleted',
                source: 'poll',
                raw: `${id} ${v.status} -> gone`,
              };
          }
        if (first) onSubscribed?.();
        first = false;
      }
      // The listener goes with each wait: one left per poll piled up on the signal (Node warned at 11).
      await new Promise<void>((r) => {
        const wake = () => {
          clearTimeout(t);
          r();
        };
        const t = setTimeout(() => {
          signal.removeEventListener('abort', wake);
          r();
        }, 500);
        signal.addEventListener('abort', wake, { once: true });
      });
    }
  }

  async task(handle: TaskHandle): Promise<TaskInfo> {
    const [serverId, requestId] = (handle.id ?? '').split('/');
    if (!serverId || !requestId) throw new NotFound(`not an OpenStack request handle: ${handle.id}`);
    const a = (
      await this.os.nova<{ instanceAction: InstanceAction }>(
        'GET',
        `/servers/${serverId}/os-instance-actions/${requestId}`,
      )
    ).body.instanceAction;
    const st = actionStatus(a);
    return {
      handle,
      status: st.status,
      startedAt: a.start_time,
      ...(st.endedAt ? { endedAt: st.endedAt } : {}),
      ...(st.error ? { error: st.error } : {}),
    };
  }
}
