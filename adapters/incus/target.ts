/** The Incus target: the driver from lab config plus the lab's own facts and controls. */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { sh } from '../../host/host.js';
import { bridgeState, hostNetworkSnapshot } from '../../host/network.js';
import { type ConnectOptions, PrereqMissing, type Target } from '../contract/index.js';
import { type IncusConfig, incusDriver } from './adapter.js';
import type { IncusPlatformConfig } from './config.js';
import { restartIncusd, startIncusdAgain, stopIncusd } from './lab/lab.js';
import { incusLabDefaults, readIncusLabState } from './lab/state.js';

export async function connectIncus(c: IncusPlatformConfig, opts: ConnectOptions): Promise<Target> {
  const local = !c.url;
  const state = local ? await readIncusLabState() : undefined;
  if (local && !state) throw new PrereqMissing('the incus lab state is missing: run `vmconform lab up incus` first');
  // VMs by default (the ADR is about VMs); containers only where the lab measured that VMs cannot start.
  const vmOk = state ? state.vm.canStart : true;
  const instanceType = c.instanceType === 'auto' ? (vmOk ? 'virtual-machine' : 'container') : c.instanceType;
  const tls =
    c.url && c.tls
      ? {
          ...(c.tls.cert ? { cert: await readSecretFile(c.tls.cert) } : {}),
          ...(c.tls.key ? { key: await readSecretFile(c.tls.key) } : {}),
          ...(c.tls.fingerprint256 ? { fingerprint256: c.tls.fingerprint256 } : {}),
        }
      : undefined;
  const driverConfig: IncusConfig = {
    ...(c.url ? { url: c.url } : { socketPath: c.socket }),
    ...(tls ? { tls } : {}),
    project: c.project,
    pool: c.pool,
    instanceType,
    ...(state && !state.vm.canStart && state.vm.error
      ? { vmUnavailable: `Incus could not start a virtual machine here: ${state.vm.error}` }
      : {}),
    ...(c.site ? { site: c.site } : {}),
    ...(c.failureDomain ? { failureDomain: c.failureDomain } : {}),
    prereqMissing: state?.prereqMissing ?? {},
    ...(state?.sizesNotEnforced ? { sizesNotEnforced: state.sizesNotEnforced } : {}),
    ...(c.waits ? { waits: c.waits } : {}),
    ...(state?.guest ? { kernel: state.guest.kernel, initrd: state.guest.initrd } : {}),
  };
  const { socketPath: _local, ...remote } = driverConfig;
  const driver = incusDriver(driverConfig, { runId: opts.runId, transcript: opts.transcript });
  const say = opts.log ?? (() => undefined);
  const image = instanceType === 'container' ? c.image : c.vmImage;
  return {
    driver,
    runId: opts.runId,
    lab: { network: c.network, network2: c.network2, externalBridge: c.externalBridge, image },
    control: {
      ...(local && c.labControl
        ? {
            restartDaemon: () => restartIncusd(say),
            stopDaemon: () => stopIncusd(say),
            startDaemon: () => startIncusdAgain(say),
          }
        : {}),
      ...(local
        ? {
            hostNetworkState: () => bridgeState(c.externalBridge),
            // Incus's own bridges and the host ends of its instances' veth pairs are declared objects; so
            // are the libvirt lab's VM taps (vnetN), which other runs on this host add and remove meanwhile.
            hostNetworkSnapshot: () =>
              hostNetworkSnapshot(
                new RegExp(`^(veth[0-9a-f]+|vnet\\d+|${incusLabDefaults.network}|${incusLabDefaults.network2})$`),
              ),
            // A client certificate Incus never trusted, over the loopback HTTPS listener: must be a typed auth error.
            badCredentials: () =>
              incusDriver(
                {
                  ...remote,
                  url: `https://${incusLabDefaults.httpsAddress}`,
                  tls: {
                    cert: readFileSync(incusLabDefaults.untrustedCert, 'utf8'),
                    key: readFileSync(incusLabDefaults.untrustedKey, 'utf8'),
                    fingerprint256: new X509Certificate(readFileSync(incusLabDefaults.serverCert)).fingerprint256,
                  },
                },
                { runId: opts.runId, transcript: opts.transcript },
              ),
            outOfBandStop: async (vm) => {
              const name = (await driver.list({})).find((v) => v.id === vm.id)?.name ?? vm.name;
              await sh('incus', ['stop', '--force', name, '--project', c.project]);
            },
          }
        : {}),
    },
  };
}

async function readSecretFile(ref: { file: string } | { env: string }): Promise<string> {
  const { resolveSecret } = await import('../contract/index.js');
  return resolveSecret(ref, 'platforms.incus.tls');
}
