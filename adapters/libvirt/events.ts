/**
 * libvirt events: pushed by `virsh event`. The task and console-log stubs stay hand-written: they are
 * the platform's limits (Unsupported by 'platform', saying why), not the adapter's gaps that
 * composeDriver would report.
 */
import { execa } from 'execa';
import { PlatformError } from '../../evidence/errors.js';
import {
  type EventOps,
  type PlatformEvent,
  type TaskHandle,
  type TaskInfo,
  Unsupported,
  type VmRef,
} from '../contract/index.js';
import type { LibvirtBase } from './core.js';
import { parseEventLine } from './virsh-output.js';

export class LibvirtEvents implements EventOps {
  constructor(private readonly b: LibvirtBase) {}

  async consoleLog(_vm: VmRef): Promise<string> {
    throw new Unsupported(
      "libvirt's API serves no console or task log history: the serial log is a file virtlogd writes on the host, outside the API; virDomainOpenConsole streams only what the guest prints after the connection is made (virsh console without a TTY refuses with 'Cannot run interactive console without a controlling TTY'; under a pseudo-terminal it works but shows only new output); virsh domjobinfo covers only migration, save and dump jobs",
    );
  }

  async *events(signal: AbortSignal, onSubscribed?: () => void): AsyncIterable<PlatformEvent> {
    // virsh prints nothing when its callbacks are registered, and a define over the virsh shell answers in
    // milliseconds: OBS-02 lost the define event that way. libvirt's debug log of its public API (stderr,
    // filtered to that category) shows each registration as it is made, lifecycle (eventID=0) first:
    // once eventID=1's begins, the lifecycle subscription is live.
    const proc = execa('virsh', ['-c', this.b.cfg.uri, 'event', '--all', '--loop', '--timestamp'], {
      stdin: 'ignore',
      cancelSignal: signal,
      reject: false,
      buffer: false,
      env: { LC_ALL: 'C', LIBVIRT_LOG_FILTERS: '1:libvirt', LIBVIRT_LOG_OUTPUTS: '1:stderr' },
      forceKillAfterDelay: 2_000,
    });
    let live = false;
    const subscribed = () => {
      if (!live) onSubscribed?.();
      live = true;
    };
    // A libvirt whose log reads otherwise never shows the marker: then the stream counts as live after a
    // grace period that is long against the registrations' few milliseconds.
    const grace = setTimeout(subscribed, 3_000);
    let log = '';
    const said: string[] = [];
    proc.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      log = (log + text).slice(-8192);
      if (!live && /virConnectDomainEventRegisterAny:[^\n]*eventID=1,/.test(log)) subscribed();
      // Kept for the error below: what virsh said before it ended (a connection refused, a lost daemon).
      for (const line of text.split('\n')) if (/ error : |^error:/.test(line)) said.push(line.trim());
      said.splice(0, Math.max(0, said.length - 5));
    });
    try {
      for await (const line of proc.iterable({ from: 'stdout' })) {
        subscribed();
        const ev = parseEventLine(String(line), Date.now());
        if (ev) yield ev;
      }
      const end = await proc;
      // A stream that ends by itself lost its daemon: say so, rather than look like a quiet platform.
      if (!signal.aborted) {
        const why = said.join(' ') || 'no message';
        throw new PlatformError(
          `libvirt: virsh event ended (exit ${end.exitCode ?? end.signal}): ${why}`,
          'event-stream-ended',
          why,
        );
      }
    } finally {
      clearTimeout(grace);
      proc.kill();
    }
  }

  async task(_handle: TaskHandle): Promise<TaskInfo> {
    throw new Unsupported(
      'libvirt returns no task or operation id for lifecycle calls (they are synchronous); virsh domjobinfo covers only migration, save and dump jobs',
    );
  }
}
