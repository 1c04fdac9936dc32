/** The Proxmox VE target: the driver from lab config, the lab facts, and the controls a remote API allows. */
import { readFile } from 'node:fs/promises';
import { ConfigInvalid } from '../../evidence/errors.js';
import { defaultWaitPolicies } from '../../host/wait.js';
import { type ConnectOptions, resolveSecret, type Target } from '../contract/index.js';
import type { TlsOptions } from '../http/client.js';
import { type ProxmoxConfig, proxmoxDriver } from './adapter.js';
import { ProxmoxClient } from './client.js';
import type { ProxmoxPlatformConfig } from './config.js';
import { restartProxmoxSimulator } from './lab.js';

const readField = (path: string, field: string) =>
  readFile(path, 'utf8').then(
    (s) => s.trim(),
    (e: NodeJS.ErrnoException) => {
      throw new ConfigInvalid(`${field}: cannot read ${path} (${e.code ?? e.message})`);
    },
  );

/** The driver's config from the lab config section: the token secret and TLS material read. */
export async function driverConfigOf(c: ProxmoxPlatformConfig): Promise<ProxmoxConfig> {
  const tokenSecret = await resolveSecret(c.tokenSecret, 'platforms.proxmox.tokenSecret');
  const tls: TlsOptions = {};
  if (c.tls.caFile) tls.ca = await readField(c.tls.caFile, 'platforms.proxmox.tls.caFile');
  if (c.tls.fingerprint256)
    tls.fingerprint256 =
      typeof c.tls.fingerprint256 === 'string'
        ? c.tls.fingerprint256
        : await readField(c.tls.fingerprint256.file, 'platforms.proxmox.tls.fingerprint256.file');
  const driverConfig: ProxmoxConfig = {
    baseUrl: c.url,
    node: c.node,
    tokenId: c.tokenId,
    tokenSecret,
    tls,
    storage: c.storage,
    snippetStorage: c.snippetStorage,
    ...(c.snippetsDir ? { snippetsDir: c.snippetsDir } : {}),
    backupStorage: c.backupStorage,
    ...(c.pool ? { pool: c.pool } : {}),
    externalBridges: c.externalBridge ? [c.externalBridge] : [],
    placement: { ...(c.site ? { site: c.site } : {}), ...(c.failureDomain ? { failureDomain: c.failureDomain } : {}) },
    simulator: c.simulator,
    prereqMissing: {
      'second-site': 'one Proxmox VE node in the lab config',
      ...(c.simulator
        ? {
            vlan: 'the Proxmox API simulator carries no guest traffic',
            kvm: 'the Proxmox API simulator runs no guests',
          }
        : {}),
    },
    ...(c.waits ? { waits: c.waits } : {}),
  };
  return driverConfig;
}

export async function connectProxmox(c: ProxmoxPlatformConfig, opts: ConnectOptions): Promise<Target> {
  const driverConfig = await driverConfigOf(c);
  const { tokenSecret } = driverConfig;
  const ctx = { runId: opts.runId, transcript: opts.transcript };
  const driver = proxmoxDriver(driverConfig, ctx);
  return {
    driver,
    runId: opts.runId,
    lab: {
      network: c.network,
      network2: c.network2,
      ...(c.externalBridge ? { externalBridge: c.externalBridge } : {}),
      image: c.image,
    },
    control: {
      // Only the local simulator can be restarted from here; a real node would need SSH (systemctl restart pvedaemon pveproxy).
      ...(c.simulator && new URL(c.url).hostname === '127.0.0.1'
        ? { restartDaemon: () => restartProxmoxSimulator(opts.log ?? (() => undefined)) }
        : {}),
      // An operator stopping the VM with their own API call, not through the driver (INT-02 drift).
      outOfBandStop: async (vm) => {
        const vmid = await driver.vmidOf(vm);
        const operator = new ProxmoxClient({ ...driverConfig, transcript: opts.transcript });
        try {
          const upid = await operator.call<string>(
            'POST',
            `/nodes/${encodeURIComponent(c.node)}/qemu/${vmid}/status/stop`,
          );
          await operator.waitTask(upid, defaultWaitPolicies['stop-forced']);
        } finally {
          await operator.close();
        }
      },
      // A wrong token secret: Proxmox answers 401 (after a delay), which must come back as AuthFailed.
      badCredentials: () => proxmoxDriver({ ...driverConfig, tokenSecret: `${tokenSecret}-wrong` }, ctx),
    },
  };
}
