/** Proxmox NICs: netN config slots on a bridge of the node, hot-plugged by a config change. */
import {
  type AttachedNic,
  type Network,
  type NicOps,
  type NicSpec,
  NotFound,
  type Receipt,
  type VmRef,
} from '../contract/index.js';
import type { ProxmoxBase } from './core.js';
import { nextNetSlot, parseNet } from './mapping.js';

export class ProxmoxNics implements NicOps {
  constructor(private readonly b: ProxmoxBase) {}

  async attachNic(vm: VmRef, nic: NicSpec): Promise<Receipt<AttachedNic>> {
    const l = await this.b.mine(vm);
    const slot = nextNetSlot(l.config);
    const value = this.b.nicValue(nic);
    const r = await this.b.mutate('POST', `${this.b.nodePath}/qemu/${l.vmid}/config`, { [slot]: value }, 'device');
    const cfg = await this.b.config(l.vmid);
    return this.b.receipt(r, parseNet(slot, cfg[slot] ?? value, this.b.c.externalBridges));
  }

  async detachNic(vm: VmRef, mac: string): Promise<Receipt> {
    const l = await this.b.mine(vm);
    const slot = Object.keys(l.config).find(
      (k) => /^net\d+$/.test(k) && parseNet(k, l.config[k] ?? '').mac === mac.toLowerCase(),
    );
    if (!slot) throw new NotFound(`proxmox: VM ${l.vmid} has no NIC with MAC ${mac}`);
    const r = await this.b.mutate('POST', `${this.b.nodePath}/qemu/${l.vmid}/config`, { delete: slot }, 'device');
    return this.b.receipt(r, undefined);
  }

  async networks(): Promise<Network[]> {
    const ifaces = await this.b.api.get<{ iface: string; type: string; active?: number | boolean }[]>(
      `${this.b.nodePath}/network`,
      { type: 'any_bridge' },
    );
    // `active` is 1 while the bridge is up and absent otherwise, never false (B-NET-1).
    return ifaces.map((i) => ({
      name: i.iface,
      kind: 'platform',
      bridge: i.iface,
      active: i.active === 1 || i.active === true,
    }));
  }
}
