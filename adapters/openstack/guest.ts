/** The guest view: the console log through os-getConsoleOutput, every segment seen, without the boot Nova's create did. */
import { parseConsole } from '../../host/guest/report.js';
import type { GuestOps, GuestProbe, VmRef } from '../contract/index.js';
import { consoleAll } from './console.js';
import type { OpenStackBase } from './core.js';
import { consoleSinceCreate, ownKeys } from './mapping.js';

export class OpenStackGuest implements GuestOps {
  constructor(private readonly os: OpenStackBase) {}

  guest(vm: VmRef): GuestProbe {
    return {
      kind: 'serial-console',
      // Measured on Zed: os-getConsoleOutput answers 404 from the moment a stop begins, and a stopped
      // server has no console; polling it every 100 ms during os-stop never showed the guest's last lines.
      unseen: {
        shutdown:
          "Nova's console API answers 404 (no console) as soon as a stop begins and keeps no log of a stopped server, so what the guest prints while it shuts down cannot be read through the API",
      },
      read: async () => {
        const s = await this.os.server(vm.id);
        const seen = await this.os.observeConsole(vm.id);
        return parseConsole(consoleSinceCreate(consoleAll(seen), s.metadata[ownKeys.createBoot]));
      },
    };
  }
}
