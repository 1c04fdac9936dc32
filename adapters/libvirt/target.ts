/** The libvirt target: the driver from lab config plus the lab's own facts and controls. */

import type { LabConfig } from '../../lab/config.js';
import { sh } from '../../lab/host.js';
import { readLibvirtLabState, restartLibvirtd, startLibvirtd, stopLibvirtd } from '../../lab/libvirt/lab.js';
import { bridgeState, hostNetworkSnapshot } from '../../lab/network.js';
import { PrereqMissing, type Target } from '../driver.js';
import { ConfigInvalid } from '../errors.js';
import type { TargetOptions } from '../registry.js';
import { type LibvirtConfig, LibvirtDriver } from './adapter.js';

export async function connectLibvirt(config: LabConfig, opts: TargetOptions): Promise<Target> {
  const c = config.platforms.libvirt;
  if (!c)
    throw new ConfigInvalid(
      `platforms.libvirt: missing from the lab config (expected a libvirt section to run libvirt)`,
    );
  const state = await readLibvirtLabState();
  if (!state) throw new PrereqMissing('the libvirt lab state is missing: run `vmconform lab up libvirt` first');
  const accel = c.accel === 'auto' ? state.accel : c.accel;
  const driverConfig: LibvirtConfig = {
    uri: c.uri,
    pool: c.pool,
    imagePool: c.imagePool,
    accel,
    kernel: state.kernel,
    initrd: state.initrd,
    cmdline: 'console=ttyS0 quiet panic=-1',
    consoleDir: state.consoleDir,
    bootDiskBytes: 64 * 1024 * 1024,
    ...(c.site ? { site: c.site } : {}),
    ...(c.failureDomain ? { failureDomain: c.failureDomain } : {}),
    prereqMissing: state.prereqMissing,
    ...(c.waits ? { waits: c.waits } : {}),
  };
  // The small pool exists only on the embedded local lab (lab up measured it).
  const small =
    c.uri === 'qemu:///system' && state.smallPool && 'name' in state.smallPool ? state.smallPool : undefined;
  const driver = new LibvirtDriver(
    { ...driverConfig, ...(small ? { ownedPools: [small.name] } : {}) },
    { runId: opts.runId, transcript: opts.transcript },
  );
  const say = opts.log ?? (() => undefined);
  return {
    driver,
    runId: opts.runId,
    lab: {
      network: c.network,
      network2: c.network2,
      externalBridge: c.externalBridge,
      image: c.image,
      ...(small ? { smallPool: { name: small.name, capacityBytes: small.capacityBytes } } : {}),
    },
    control: {
      ...(c.labControl
        ? {
            restartDaemon: () => restartLibvirtd(say),
            stopDaemon: () => stopLibvirtd(say),
            startDaemon: () => startLibvirtd(say),
          }
        : {}),
      ...(small
        ? {
            smallPoolDriver: () =>
              new LibvirtDriver(
                { ...driverConfig, pool: small.name, allocation: 'full' },
                { runId: opts.runId, transcript: opts.transcript },
              ),
          }
        : {}),
      hostNetworkState: () => bridgeState(c.externalBridge),
      hostNetworkSnapshot: () => hostNetworkSnapshot(/^(vnet\d+|vmcbr\d+|virbr\d+(-nic)?)$/),
      outOfBandStop: async (vm) => void (await sh('virsh', ['-c', c.uri, 'destroy', vm.id])),
      // A local unprivileged user (nobody) has no rights on qemu:///system: the platform must say so, typed.
      ...(c.uri.startsWith('qemu:///')
        ? {
            badCredentials: () =>
              new LibvirtDriver({ ...driverConfig, uid: 65534 }, { runId: opts.runId, transcript: opts.transcript }),
          }
        : {}),
    },
  };
}
