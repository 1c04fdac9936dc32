/**
 * libvirt events: pushed by `virsh event`. The task and console-log stubs stay hand-written: they are
 * the platform's limits (Unsupported by 'platform', saying why), not the adapter's gaps that
 * composeDriver would report.
 */
import { execa } from 'execa';
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

  async *events(signal: AbortSignal): AsyncIterable<PlatformEvent> {
    const proc = execa('virsh', ['-c', this.b.cfg.uri, 'event', '--all', '--loop', '--timestamp'], {
      stdin: 'ignore',
      cancelSignal: signal,
      reject: false,
      env: { LC_ALL: 'C' },
      forceKillAfterDelay: 2_000,
    });
    try {
      for await (const line of proc.iterable({ from: 'stdout' })) {
        const ev = parseEventLine(String(line), Date.now());
        if (ev) yield ev;
      }
    } finally {
      proc.kill();
    }
  }

  async task(_handle: TaskHandle): Promise<TaskInfo> {
    throw new Unsupported(
      'libvirt returns no task or operation id for lifecycle calls (they are synchronous); virsh domjobinfo covers only migration, save and dump jobs',
    );
  }
}
