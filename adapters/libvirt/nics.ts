/** libvirt NICs: hotplug by MAC and the daemon's virtual networks. */
import { waitFor } from '../../host/wait.js';
import {
  type AttachedNic,
  type Network,
  type NicOps,
  type NicSpec,
  NotFound,
  type Receipt,
  type VmRef,
} from '../contract/index.js';
import { type LibvirtBase, mac, noHandle } from './core.js';
import { buildDeviceXml, nicXml } from './mapping.js';
import type { LibvirtVms } from './vms.js';

export class LibvirtNics implements NicOps {
  constructor(
    private readonly b: LibvirtBase,
    private readonly vms: LibvirtVms,
  ) {}

  async attachNic(vm: VmRef, nic: NicSpec): Promise<Receipt<AttachedNic>> {
    const { b } = this;
    await b.ownedDomain(vm);
    const address = (nic.mac ?? mac()).toLowerCase();
    const t0 = performance.now();
    const xml = buildDeviceXml('interface', nicXml({ ...nic, mac: address }));
    await b.withTempFile(xml, async (p) => b.virsh.run(['attach-device', vm.id, p, ...(await b.deviceFlags(vm))]));
    const found = (await this.vms.inspect(vm)).config.nics.find((n) => n.mac === address);
    if (!found) throw new NotFound(`NIC ${address} not present in ${vm.name} after attach`);
    const ms = performance.now() - t0;
    return { result: found, handle: noHandle, acceptedMs: ms, doneMs: ms };
  }

  async detachNic(vm: VmRef, address: string): Promise<Receipt> {
    const { b } = this;
    const d = await b.ownedDomain(vm);
    const nic = d.config.nics.find((n) => n.mac === address.toLowerCase());
    if (!nic) throw new NotFound(`${vm.name} has no NIC with MAC ${address}`);
    const t0 = performance.now();
    await b.virsh.run([
      'detach-interface',
      vm.id,
      nic.external ? 'bridge' : 'network',
      '--mac',
      nic.mac,
      ...(await b.deviceFlags(vm)),
    ]);
    const acceptedMs = performance.now() - t0;
    await waitFor(`NIC ${address} to leave ${vm.name}`, b.policy('device'), async () =>
      (await b.domain(vm)).config.nics.some((n) => n.mac === nic.mac) ? undefined : true,
    );
    return { result: undefined, handle: noHandle, acceptedMs, doneMs: performance.now() - t0 };
  }

  async networks(): Promise<Network[]> {
    const names = await this.b.lines(['net-list', '--all', '--name']);
    const out: Network[] = [];
    for (const name of names) {
      const xml = await this.b.virsh.run(['net-dumpxml', name]);
      const info = await this.b.virsh.run(['net-info', name]);
      out.push({
        name,
        kind: 'platform',
        bridge: /<bridge name='([^']+)'/.exec(xml)?.[1] ?? '',
        active: /Active:\s+yes/.test(info),
      });
    }
    return out;
  }
}
