/** Where the Incus lab keeps its facts and how it calls the incus CLI: shared by its bring-up modules. */
import { join } from 'node:path';
import { readJson, sh, writeJson } from '../../../host/host.js';
import type { Capabilities } from '../../contract/index.js';

export const incusLabDefaults = {
  root: '/var/lib/vmconform/incus',
  socket: '/var/lib/incus/unix.socket',
  pool: 'vmconform',
  project: 'vmconform',
  network: 'vmcincbr0',
  network2: 'vmcincbr1',
  /** Addresses inside 10.77.0.0/23: clear of libvirt's default 192.168.122.0/24 and the host's own nets. */
  address: '10.77.0.1/24',
  address2: '10.77.1.1/24',
  /** Our own external bridge (not the libvirt lab's vmc-ext0), so the Incus lab stands alone. */
  externalBridge: 'vmcinc-ext0',
  /** Loopback HTTPS listener: the remote (client certificate) path, and AUT-01's untrusted client. */
  httpsAddress: '127.0.0.1:8443',
  untrustedCert: '/var/lib/vmconform/incus/untrusted-client.crt',
  untrustedKey: '/var/lib/vmconform/incus/untrusted-client.key',
  serverCert: '/var/lib/incus/server.crt',
  containerImage: 'vmc-base-v1',
  vmImage: 'vmc-base-v1-vm',
};
const d = incusLabDefaults;

export interface IncusLabState {
  version: string;
  /** Whether an Incus virtual machine started here, and Incus's own error when it did not. */
  vm: { canStart: boolean; error?: string };
  prereqMissing: Capabilities['prereqMissing'];
  startedPids: { incusd?: number };
  createdBridge: boolean;
  images: { container: string; vm?: string };
  /** Why volume sizes are not enforced on the lab's pool, when they are not (a dir pool needs project quotas). */
  sizesNotEnforced?: string;
  /** Direct kernel boot artefacts for Incus VMs (raw.qemu), the same the libvirt lab boots. */
  guest: { kernel: string; initrd: string; baseImage: string };
  bringUp: { ms: number; at: string; cold: boolean };
}

const statePath = join(d.root, 'lab.json');

export const readIncusLabState = () => readJson<IncusLabState>(statePath);
export const writeIncusLabState = (s: IncusLabState) => writeJson(statePath, s);

/** The incus CLI, for bring-up steps (the adapter talks to the API, never to this). */
export const incus = (args: string[], allowFail = false) => sh('incus', args, { allowFail });
