/** Incus NICs: nic devices hotplugged by replacing the instance's devices; managed networks listed. */
import {
  type AttachedNic,
  type Network,
  type NicOps,
  type NicSpec,
  NotFound,
  PrereqMissing,
  type Receipt,
  type VmRef,
} from '../contract/index.js';
import { handleOf, type IncusBase, randomMac, receipt } from './core.js';
import { nicDevice, nicName } from './mapping.js';

export class IncusNics implements NicOps {
  constructor(private readonly b: IncusBase) {}

  async attachNic(vm: VmRef, nic: NicSpec): Promise<Receipt<AttachedNic>> {
    const { name, inst } = await this.b.ownedInstance(vm);
    const { prereqMissing } = this.b.cfg;
    if (nic.vlan !== undefined && prereqMissing.vlan) throw new PrereqMissing(prereqMissing.vlan);
    const t0 = performance.now();
    const mac = (nic.mac ?? randomMac()).toLowerCase();
    const used = Object.keys(inst.expanded_devices ?? inst.devices);
    let i = 0;
    while (used.includes(nicName(i))) i++;
    const r = await this.b.patchDevices(
      name,
      { ...inst.devices, [nicName(i)]: nicDevice(inst.type, i, { ...nic, mac }) },
      `attach NIC ${mac} to ${name}`,
    );
    const found = (await this.b.inspect(vm)).config.nics.find((n) => n.mac === mac);
    if (!found) throw new NotFound(`NIC ${mac} not present in ${name} after attach`);
    return { result: found, handle: handleOf(r), acceptedMs: r.acceptedMs, doneMs: performance.now() - t0 };
  }

  async detachNic(vm: VmRef, mac: string): Promise<Receipt> {
    const { name, inst } = await this.b.ownedInstance(vm);
    const want = mac.toLowerCase();
    const dev = Object.entries(inst.devices).find(
      ([n, d]) => d.type === 'nic' && (d.hwaddr ?? inst.config[`volatile.${n}.hwaddr`] ?? '').toLowerCase() === want,
    );
    if (!dev) throw new NotFound(`${name} has no NIC with MAC ${mac}`);
    const { [dev[0]]: _gone, ...rest } = inst.devices;
    return receipt(await this.b.patchDevices(name, rest, `detach NIC ${mac} from ${name}`), undefined);
  }

  async networks(): Promise<Network[]> {
    const nets = await this.b.client.sync<{ name: string; type: string; managed: boolean; status?: string }[]>(
      'GET',
      '/1.0/networks',
      { query: { recursion: 1 } },
    );
    // Incus also lists every host interface (managed: false); those are not its networks.
    return nets
      .filter((n) => n.managed)
      .map((n) => ({ name: n.name, kind: 'platform' as const, bridge: n.name, active: n.status === 'Created' }));
  }
}
