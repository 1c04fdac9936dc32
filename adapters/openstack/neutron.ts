/** Neutron lookups (cached by id) and the ports the harness makes for its NICs. */
import { Conflict, type NicSpec, NotFound } from '../contract/index.js';
import type { OpenStackBase } from './core.js';
import type { NeutronNetwork } from './mapping.js';

export class Neutron {
  private readonly netCache = new Map<string, NeutronNetwork>();

  constructor(private readonly os: OpenStackBase) {}

  async network(name: string): Promise<NeutronNetwork> {
    const cached = [...this.netCache.values()].find((n) => n.name === name);
    if (cached) return cached;
    const nets = await this.os.list<NeutronNetwork>('network', '/v2.0/networks', 'networks', { name });
    const n = nets[0];
    if (!n) throw new NotFound(`openstack: no Neutron network named '${name}'`);
    if (nets.length > 1) throw new Conflict(`openstack: ${nets.length} Neutron networks are named '${name}'`);
    this.netCache.set(n.id, n);
    return n;
  }

  async networkById(id: string): Promise<NeutronNetwork | undefined> {
    if (!this.netCache.has(id)) {
      const r = await this.os
        .call<{ network: NeutronNetwork }>('network', 'GET', `/v2.0/networks/${id}`)
        .catch((e) => (e instanceof NotFound ? undefined : Promise.reject(e)));
      if (r) this.netCache.set(id, r.body.network);
    }
    return this.netCache.get(id);
  }

  async nicNetwork(nic: NicSpec): Promise<NeutronNetwork> {
    if (!nic.external) return this.network(nic.network);
    const { externalBridge, externalNetwork } = this.os.cfg;
    if (!externalNetwork || nic.network !== externalBridge)
      throw new NotFound(
        `openstack: bridge '${nic.network}' is not mapped to a Neutron provider network (lab config externalBridge/externalNetwork)`,
      );
    return this.network(externalNetwork);
  }

  async createPort(name: string, net: NeutronNetwork, mac?: string): Promise<{ id: string; mac: string }> {
    const r = await this.os.call<{ port: { id: string; mac_address: string } }>('network', 'POST', '/v2.0/ports', {
      json: { port: { network_id: net.id, name, ...(mac ? { mac_address: mac.toLowerCase() } : {}) } },
    });
    return { id: r.body.port.id, mac: r.body.port.mac_address };
  }

  async deletePort(id: string): Promise<void> {
    await this.os
      .call('network', 'DELETE', `/v2.0/ports/${id}`, { idempotent: true })
      .catch((e) => (e instanceof NotFound ? undefined : Promise.reject(e)));
  }
}
