/** The guest's view: the serial console for a VM, the guest's own protocol log for a container. */
import { parseConsole } from '../../host/guest/report.js';
import { type GuestOps, type GuestProbe, NotFound, type VmRef } from '../contract/index.js';
import { enc, type IncusBase } from './core.js';

/** Where the container guest keeps its protocol log (adapters/incus/lab/container-init). */
const guestLog = '/var/log/vmc/console.log';

export class IncusGuest implements GuestOps {
  constructor(private readonly b: IncusBase) {}

  guest(vm: VmRef): GuestProbe {
    if (!this.b.isContainer)
      // The VM guest (direct kernel boot, no incus-agent) prints its protocol on the serial console,
      // which Incus serves as the instance console log. Unverified on this lab: VMs cannot start here.
      return { kind: 'serial-console', read: async () => parseConsole(await this.b.consoleLog(vm)) };
    return {
      kind: 'exec',
      // The guest's own protocol log, read through the instance file API (works while stopped too).
      read: async () => {
        // Polled often while waiting for the guest: the cached name saves a lookup per read.
        const name = this.b.names.get(vm.id) ?? (await this.b.nameOf(vm));
        const r = await this.b.client
          .raw('GET', `/1.0/instances/${enc(name)}/files`, { query: { path: guestLog } })
          .catch((e) => (e instanceof NotFound ? undefined : Promise.reject(e)));
        return parseConsole(r?.text ?? '');
      },
    };
  }
}
