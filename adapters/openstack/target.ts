/** The OpenStack target: a Keystone session and the driver from lab config, plus the lab's own facts and controls. */
import { readFile } from 'node:fs/promises';
import { ConfigInvalid } from '../../evidence/errors.js';
import { bridgeState, hostNetworkSnapshot } from '../../host/network.js';
import { type Capabilities, type ConnectOptions, resolveSecret, type Target } from '../contract/index.js';
import { openStackDriver } from './adapter.js';
import { microversionsFor, type OpenStackAuth, OpenStackSession } from './client.js';
import type { OpenStackPlatformConfig } from './config.js';
import {
  readOpenStackLabState,
  restartOpenStackControlPlane,
  startOpenStackControlPlane,
  stopOpenStackControlPlane,
} from './lab.js';

async function resolveAuth(c: OpenStackPlatformConfig): Promise<OpenStackAuth> {
  const a = c.auth;
  if (a.method === 'application-credential')
    return { method: a.method, id: a.id, secret: await resolveSecret(a.secret, 'platforms.openstack.auth.secret') };
  return {
    method: 'password',
    username: a.username,
    userDomain: a.userDomain,
    project: a.project,
    projectDomain: a.projectDomain,
    password: await resolveSecret(a.password, 'platforms.openstack.auth.password'),
  };
}

export async function connectOpenStack(c: OpenStackPlatformConfig, opts: ConnectOptions): Promise<Target> {
  const auth = await resolveAuth(c);
  const tls = c.tls
    ? {
        ...(c.tls.caFile
          ? {
              ca: await readFile(c.tls.caFile, 'utf8').catch(() => {
                throw new ConfigInvalid(`platforms.openstack.tls.caFile: cannot read ${c.tls?.caFile}`);
              }),
            }
          : {}),
        ...(c.tls.fingerprint256 ? { fingerprint256: c.tls.fingerprint256 } : {}),
      }
    : undefined;
  const lab = await readOpenStackLabState();
  const isLabEndpoint = !!lab && c.authUrl === lab.authUrl;
  const session = (a: OpenStackAuth) =>
    new OpenStackSession({
      authUrl: c.authUrl,
      auth: a,
      ...(c.region ? { region: c.region } : {}),
      interface: c.interface,
      ...(tls ? { tls } : {}),
      transcript: opts.transcript,
      microversions: microversionsFor(c.microversions),
    });
  const prereqMissing: Capabilities['prereqMissing'] = isLabEndpoint ? lab.prereqMissing : {};
  const driverFor = (a: OpenStackAuth) =>
    openStackDriver(
      {
        endpoint: c.authUrl,
        image: c.image,
        bootDiskBytes: 1024 ** 3,
        boot: c.boot,
        ...(c.externalNetwork && c.externalBridge
          ? { externalNetwork: c.externalNetwork, externalBridge: c.externalBridge }
          : {}),
        // The lab says what it runs (real guests; simulated only on Cinder's fake driver).
        evidence: isLabEndpoint ? lab.evidence : c.evidence,
        prereqMissing,
        ...(isLabEndpoint ? { accel: lab.accel } : {}),
        ...(c.waits ? { waits: c.waits } : {}),
      },
      session(a),
      { runId: opts.runId, transcript: opts.transcript },
    );
  const driver = driverFor(auth);
  const say = opts.log ?? (() => undefined);
  const wrong: OpenStackAuth =
    auth.method === 'password'
      ? { ...auth, password: `${auth.password}-wrong` }
      : { ...auth, secret: `${auth.secret}-wrong` };
  return {
    driver,
    runId: opts.runId,
    lab: {
      network: c.network,
      network2: c.network2,
      ...(c.externalNetwork && c.externalBridge ? { externalBridge: c.externalBridge } : {}),
      image: c.image,
    },
    control: {
      ...(c.labControl && isLabEndpoint
        ? {
            restartDaemon: () => restartOpenStackControlPlane(say),
            // OPS-01's platform down: Nova's daemons stopped, guests running on.
            stopDaemon: () => stopOpenStackControlPlane(say),
            startDaemon: () => startOpenStackControlPlane(say),
            ...(c.externalBridge ? { hostNetworkState: () => bridgeState(c.externalBridge as string) } : {}),
            // Neutron's linuxbridge agent owns its brq<network> bridges and tap<port> devices and enslaves the
            // lab's physical interfaces (osr-phys*) to them, as its mappings allow; other runs on this host add
            // libvirt taps (vnetN) and Incus veths meanwhile.
            hostNetworkSnapshot: () =>
              hostNetworkSnapshot(
                /^(brq[0-9a-f]{8}-[0-9a-f]{2}|tap[0-9a-f]{8}-[0-9a-f]{2}|osr-phys\d+|vnet\d+|veth[0-9a-f]+)$/,
              ),
            labRecord: async () => {
              const s = await readOpenStackLabState();
              return (
                s && {
                  command: 'vmconform lab up openstack',
                  manualSteps: [],
                  lastBringUp: s.bringUp,
                  ...(s.coldBringUp ? { coldBringUp: s.coldBringUp } : {}),
                }
              );
            },
          }
        : {}),
      // Behind the harness's back: another Keystone session stops the server through Nova directly.
      outOfBandStop: async (vm) => {
        const other = session(auth);
        try {
          await other.call('compute', 'POST', `/servers/${vm.id}/action`, { json: { 'os-stop': null } });
        } finally {
          await other.close();
        }
      },
      badCredentials: () => driverFor(wrong),
    },
  };
}
