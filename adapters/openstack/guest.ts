/** The guest view: the console log through os-getConsoleOutput, without the boot Nova's create did. */
import { parseConsole } from '../../host/guest/report.js';
import type { GuestOps, GuestProbe, VmRef } from '../contract/index.js';
import type { OpenStackBase } from './core.js';
import { consoleSinceCreate, ownKeys } from './mapping.js';

export class OpenStackGuest implements GuestOps {
  constructor(private readonly os: OpenStackBase) {}

  guest(vm: VmRef): GuestProbe {
    return {
      kind: 'serial-console',
      read: async () => {
        const s = await this.os.server(vm.id);
        const text = await this.os.consoleText(vm.id);
        return parseConsole(consoleSinceCreate(text, s.metadata[ownKeys.createBoot]));
      },
    };
  }
}
