/** Neutron ports as VM NICs: a port per NIC, attached through Nova's os-interface, and the network list. */
import { waitFor } from '../../host/wait.js';
import {
  type AttachedNic,
  type Network,
  type NicOps,
  type NicSpec,
  NotFound,
  type Receipt,
  type VmRef,
  type VmState,
} from '../contract/index.js';
import type { OpenStackBase } from './core.js';
import type { InterfaceAttachment, NeutronNetwork } from './mapping.js';

export class OpenStackNics implements NicOps {
  constructor(
    private readonly os: OpenStackBase,
    private readonly inspect: (vm: VmRef) => Promise<VmState>,
  ) {}

  private async interfaces(vm: VmRef): Promise<InterfaceAttachment[]> {
    return (
      await this.os.nova<{ interfaceAttachments: InterfaceAttachment[] }>('GET', `/servers/${vm.id}/os-interface`)
    ).body.interfaceAttachments;
  }

  async attachNic(vm: VmRef, nic: NicSpec): Promise<Receipt<AttachedNic>> {
    const { os } = this;
    const s = await os.ownedServer(vm);
    const net = await os.neutron.nicNetwork(nic);
    const t0 = performance.now();
    const count = (await this.interfaces(vm)).length;
    const port = await os.neutron.createPort(`${s.name}-nic${count}`, net, nic.mac);
    const res = await os.withRollback((rollback) => {
      rollback.add(`port ${port.id}`, () => os.neutron.deletePort(port.id));
      return os.nova('POST', `/servers/${vm.id}/os-interface`, { json: { interfaceAttachment: { port_id: port.id } } });
    });
    const acceptedMs = performance.now() - t0;
    const found = (
      await waitFor(`NIC ${port.mac} on ${vm.name}`, os.policy('device'), async () =>
        (await this.inspect(vm)).config.nics.find((n) => n.mac === port.mac),
      )
    ).value;
    return { result: found, handle: os.handle(vm.id, res), acceptedMs, doneMs: performance.now() - t0 };
  }

  async detachNic(vm: VmRef, mac: string): Promise<Receipt> {
    const { os } = this;
    await os.ownedServer(vm);
    const i = (await this.interfaces(vm)).find((x) => x.mac_addr.toLowerCase() === mac.toLowerCase());
    if (!i) throw new NotFound(`${vm.name} has no NIC with MAC ${mac}`);
    const t0 = performance.now();
    const res = await os.nova('DELETE', `/servers/${vm.id}/os-interface/${i.port_id}`, { idempotent: true });
    const acceptedMs = performance.now() - t0;
    await waitFor(`NIC ${mac} to leave ${vm.name}`, os.policy('device'), async () =>
      (await this.interfaces(vm)).some((x) => x.port_id === i.port_id) ? undefined : true,
    );
    await os.neutron.deletePort(i.port_id);
    return { result: undefined, handle: os.handle(vm.id, res), acceptedMs, doneMs: performance.now() - t0 };
  }

  async networks(): Promise<Network[]> {
    const nets = await this.os.list<NeutronNetwork>('network', '/v2.0/networks', 'networks');
    return nets.map((n) => ({ name: n.name, kind: 'platform', active: n.status === 'ACTIVE' }));
  }
}
