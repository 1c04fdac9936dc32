/**
 * Proxmox events and tasks: Proxmox has no push events, so the event stream polls the node's task list and
 * its VM list; a task handle is a UPID; the console log is the VM's task logs (no serial log over REST).
 */
import { type WaitPolicy, waitFor } from '../../host/wait.js';
import {
  type EventOps,
  NotFound,
  type PlatformEvent,
  type TaskHandle,
  type TaskInfo,
  type VmRef,
} from '../contract/index.js';
import type { ProxmoxBase } from './core.js';
import { parseTaskStatus, parseUpid } from './mapping.js';

interface ClusterTask {
  upid: string;
  type?: string;
  id?: string;
  status?: string;
  starttime?: number;
  endtime?: number;
  exitstatus?: string;
}

export class ProxmoxEvents implements EventOps {
  constructor(private readonly b: ProxmoxBase) {}

  /**
   * Polls the node's tasks (Proxmox has no push events): one event when a task is first seen and one when
   * it ends. Not /cluster/tasks: it shows a token none of its own tasks without Sys.Audit on /, while the
   * node's list shows a token its own (source=all: running ones too). A clone's task names its source (the
   * template), and vmids are reused, so the node's VM list (current names, unlike /cluster/resources) is
   * read on every poll too: a VM that appears or goes is an event of its own (defined / deleted), and task
   * ids map to the names VMs have now.
   */
  async *events(signal: AbortSignal, onSubscribed?: () => void): AsyncIterable<PlatformEvent> {
    const seen = new Map<string, string>();
    let names = new Map<string, string>();
    let first = true;
    // The poll interval, declared as a wait policy (a quarter second between task list reads).
    const poll: WaitPolicy = { deadlineMs: 5_000, intervalMs: 50, backoff: 1, maxIntervalMs: 50 };
    while (!signal.aborted) {
      const tasks = await this.b.api
        .get<ClusterTask[]>(`${this.b.nodePath}/tasks`, { source: 'all', limit: 200 })
        .then((t) => [...t].reverse())
        .catch(() => []);
      const vms = await this.b.vmList().catch(() => undefined);
      const out: PlatformEvent[] = [];
      if (vms) {
        const now = new Map<string, string>();
        // A VM still being cloned or restored has only a placeholder name ("VM 101"): it appears once made.
        for (const r of vms) if (r.name && r.lock !== 'clone' && r.lock !== 'create') now.set(String(r.vmid), r.name);
        const change = (vm: string, detail: string, raw: string): PlatformEvent => ({
          receivedAt: Date.now(),
          vm,
          kind: 'lifecycle',
          detail,
          source: 'poll',
          raw,
        });
        if (!first) {
          for (const [id, name] of now)
            if (names.get(id) !== name)
              out.push(change(name, 'defined', `vmid ${id} ${names.get(id) ?? '-'} -> ${name}`));
          for (const [id, name] of names)
            if (now.get(id) !== name)
              out.push(change(name, 'deleted', `vmid ${id} ${name} -> ${now.get(id) ?? 'gone'}`));
        }
        names = now;
      }
      for (const t of tasks) {
        const state = t.endtime ? `stopped ${t.exitstatus ?? t.status ?? ''}`.trim() : 'running';
        if (seen.get(t.upid) === state) continue;
        seen.set(t.upid, state);
        if (first) continue;
        const u = parseUpid(t.upid);
        const type = t.type ?? u.type;
        out.push({
          receivedAt: Date.now(),
          platformAt: new Date(((t.endtime ?? t.starttime ?? u.starttime) as number) * 1000).toISOString(),
          ...(names.get(t.id ?? u.id) ? { vm: names.get(t.id ?? u.id) as string } : {}),
          kind: /^qm(start|stop|shutdown|reboot|destroy|create|clone|restore)$/.test(type)
            ? 'lifecycle'
            : type === 'qmconfig'
              ? 'config'
              : 'task',
          detail: `${type} ${state}`,
          source: 'poll',
          raw: JSON.stringify(t),
        });
      }
      if (first) onSubscribed?.();
      first = false;
      for (const e of out) yield e;
      const next = Date.now() + 250;
      // No signal passed: the loop checks it each round, and a signal per wait would pile up listeners.
      await waitFor('next task list poll', poll, async () => (Date.now() >= next || signal.aborted ? true : undefined));
    }
  }

  async task(handle: TaskHandle): Promise<TaskInfo> {
    if (handle.kind !== 'task' || !handle.id)
      throw new NotFound(`proxmox: handle ${JSON.stringify(handle)} is not a task UPID`);
    const u = parseUpid(handle.id);
    const s = await this.b.api.get<{ status: string; exitstatus?: string; starttime?: number }>(
      `/nodes/${encodeURIComponent(u.node)}/tasks/${encodeURIComponent(handle.id)}/status`,
    );
    let endtime: number | undefined;
    if (s.status === 'stopped') {
      const row = (
        await this.b.api.get<{ upid: string; endtime?: number }[]>(`/nodes/${encodeURIComponent(u.node)}/tasks`, {
          vmid: Number(u.id) || undefined,
          limit: 500,
        })
      ).find((t) => t.upid === handle.id);
      endtime = row?.endtime;
    }
    return parseTaskStatus(handle.id, s, endtime);
  }

  /** The VM's task logs (start, stop, config, ...), newest last: Proxmox serves no serial console log over REST. */
  async consoleLog(vm: VmRef): Promise<string> {
    const l = await this.b.locate(vm);
    const tasks = await this.b.api.get<{ upid: string; type: string; status?: string }[]>(`${this.b.nodePath}/tasks`, {
      vmid: l.vmid,
      limit: 20,
    });
    const parts: string[] = [];
    for (const t of [...tasks].reverse()) parts.push(`== ${t.upid}`, ...(await this.b.api.taskLog(t.upid)));
    return `${parts.join('\n')}\n`;
  }
}
