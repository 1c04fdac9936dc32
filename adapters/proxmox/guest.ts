/** The guest-side view on Proxmox: the harness guest's log and NICs, read through the QEMU guest agent. */
import { isVmconformError } from '../../evidence/errors.js';
import type { GuestOps, GuestProbe, VmRef } from '../contract/index.js';
import type { ProxmoxBase } from './core.js';
import { agentReport } from './mapping.js';

const guestLogPath = '/var/log/vmc/guest.log';

export class ProxmoxGuest implements GuestOps {
  constructor(private readonly b: ProxmoxBase) {}

  guest(vm: VmRef): GuestProbe {
    return {
      kind: 'agent',
      read: async () => {
        const l = await this.b.locate(vm);
        const base = `${this.b.nodePath}/qemu/${l.vmid}/agent`;
        const cached = () => this.b.guestCache.get(vm.id) ?? { events: [], malformed: [], partial: undefined };
        // The agent answers only while the guest runs: between runs the probe returns what it last read.
        if ((await this.b.power(l.vmid)).status !== 'running') return cached();
        try {
          const file = await this.b.api.get<{ content: string }>(`${base}/file-read`, { file: guestLogPath });
          const ifs = await this.b.api.get<{ result?: { name: string; 'hardware-address'?: string }[] }>(
            `${base}/network-get-interfaces`,
          );
          const report = agentReport(file.content, ifs.result);
          this.b.guestCache.set(vm.id, report);
          return report;
        } catch (e) {
          if (isVmconformError(e) && /guest agent|not running/i.test(e.message)) return cached();
          throw e;
        }
      },
    };
  }
}
