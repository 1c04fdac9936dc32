/** The libvirt target: the driver from lab config plus the lab's own facts and controls. */

import { stat } from 'node:fs/promises';
import type { LabConfig } from '../../lab/config.js';
import { sh } from '../../lab/host.js';
import { guestArtefacts, readLibvirtLabState, restartLibvirtd } from '../../lab/libvirt/lab.js';
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
  // This checkout's guest, not whichever another checkout's `lab up` recorded last.
  const guest = await guestArtefacts();
  if (!(await stat(guest.initrd).catch(() => undefined)))
    throw new PrereqMissing(
      `the guest for this checkout is not built (${guest.initrd}): run \`vmconform lab up libvirt\``,
    );
  const driverConfig: LibvirtConfig = {
    uri: c.uri,
    pool: c.pool,
    imagePool: c.imagePool,
    accel,
    kernel: guest.kernel,
    initrd: guest.initrd,
    cmdline: 'console=ttyS0 quiet panic=-1',
    consoleDir: state.consoleDir,
    bootDiskBytes: 64 * 1024 * 1024,
    ...(c.site ? { site: c.site } : {}),
    ...(c.failureDomain ? { failureDomain: c.failureDomain } : {}),
    prereqMissing: {
      ...state.prereqMissing,
      ...(c.talosImage
        ? {}
        : {
            'talos-image': 'the lab config names no Talos image (platforms.libvirt.talosImage: a raw Talos disk image)',
          }),
    },
    ...(c.waits ? { waits: c.waits } : {}),
  };
  const driver = new LibvirtDriver(driverConfig, { runId: opts.runId, transcript: opts.transcript });
  const say = opts.log ?? (() => undefined);
  return {
    driver,
    runId: opts.runId,
    lab: {
      network: c.network,
      network2: c.network2,
      externalBridge: c.externalBridge,
      image: c.image,
      ...(c.talosImage ? { talosImage: c.talosImage } : {}),
    },
    control: {
      ...(c.labControl ? { restartDaemon: () => restartLibvirtd(say) } : {}),
      hostNetworkState: () => bridgeState(c.externalBridge),
      hostNetworkSnapshot: () => hostNetworkSnapshot(/^(vnet\d+|vmcbr\d+|virbr\d+(-nic)?)$/),
      outOfBandStop: async (vm) => void (await sh('virsh', ['-c', c.uri, 'destroy', vm.id])),
      // lab.json describes the embedded local lab only: a remote host has no record here.
      ...(c.uri.startsWith('qemu:///')
        ? {
            labRecord: async () => {
              const s = await readLibvirtLabState();
              return (
                s && {
                  command: 'vmconform lab up libvirt',
                  manualSteps: [],
                  lastBringUp: s.bringUp,
                  ...(s.coldBringUp ? { coldBringUp: s.coldBringUp } : {}),
                }
              );
            },
          }
        : {}),
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
