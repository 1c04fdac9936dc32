/** libvirt guest view: the serial console log virtlogd writes, read locally or over SFTP. */
import { readFile } from 'node:fs/promises';
import { parseConsole } from '../../host/guest/report.js';
import { type GuestOps, type GuestProbe, NotFound, Unsupported, type VmRef } from '../contract/index.js';
import type { LibvirtBase } from './core.js';

export class LibvirtGuest implements GuestOps {
  constructor(private readonly b: LibvirtBase) {}

  guest(vm: VmRef): GuestProbe {
    const { b } = this;
    const remote = b.remoteFiles;
    if (!b.isLocal && !remote) {
      throw new Unsupported(
        `reading the guest console of a remote libvirt host (${b.cfg.uri}) needs an ssh section (user, privateKey, knownHosts) in the lab config`,
        'adapter',
      );
    }
    // The log path comes from the domain XML: it keeps the creation name across renames. The harness
    // never edits a domain's console, so the path is read once per probe: a readiness poll every 100 ms
    // otherwise spawns a virsh dumpxml each time (25 per boot, most of the harness's CPU under TCG).
    let logPath: string | undefined;
    return {
      kind: 'serial-console',
      read: async () => {
        logPath ??= (await b.domain(vm)).consoleLog;
        const path = logPath;
        if (!path) throw new NotFound(`${vm.name} has no serial console log configured`);
        const text = remote ? await remote.read(path) : await readFile(path, 'utf8').catch(() => '');
        return parseConsole(text);
      },
    };
  }
}
