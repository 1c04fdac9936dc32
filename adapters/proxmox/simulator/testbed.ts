/**
 * The simulator in process on loopback for unit tests: a temporary folder with a certificate, a test
 * token, template 9000 and the adapter config that reaches it. One testbed per test file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCert } from '../../../host/certs.js';
import type { VmSpec } from '../../contract/index.js';
import type { ProxmoxConfig } from '../adapter.js';
import { ProxmoxSimulator, type SimulatorOptions } from './simulator.js';

export const testToken = { tokenId: 'root@pam!test', tokenSecret: 'b6c1e0f2-5a4d-4f1e-9a2b-0c3d4e5f6a7b' };

/** A small VM from the testbed's template 9000 on vmbr0. */
export const testSpec = (name: string, over: Partial<VmSpec> = {}): VmSpec => ({
  name,
  vcpus: 1,
  memoryMiB: 256,
  image: 'base',
  disks: [],
  nics: [{ network: 'vmbr0', mac: '52:54:00:aa:00:01' }],
  metadata: { tenant: 't' },
  ...over,
});

export function simulatorTestbed(label: string) {
  const dir = mkdtempSync(join(tmpdir(), `vmc-${label}-`));
  const { cert, key } = makeCert(dir, label);
  const sims: ProxmoxSimulator[] = [];
  return {
    dir,
    /** A simulator in one release mode (fast tasks by default) and the adapter config for it. */
    async start(version: string, over: Partial<SimulatorOptions> = {}) {
      const sim = new ProxmoxSimulator({
        version,
        node: 'pve1',
        ...testToken,
        cert,
        key,
        taskMs: 40,
        authDelayMs: 10,
        snippetsDir: join(dir, 'snippets'),
        ...over,
      });
      sims.push(sim);
      sim.addTemplate(9000, 'base', 'VMCIMG:base-v1');
      const { port, fingerprint256 } = await sim.listen();
      const config: ProxmoxConfig = {
        baseUrl: `https://127.0.0.1:${port}/api2/json`,
        node: 'pve1',
        ...testToken,
        tls: { fingerprint256 },
        storage: 'local-lvm',
        snippetStorage: 'local',
        snippetsDir: join(dir, 'snippets'),
        backupStorage: 'local',
        pool: 'vmconform',
        externalBridges: [],
        placement: {},
        simulator: true,
        prereqMissing: {},
      };
      return { sim, config };
    },
    /** Stops every simulator it started and removes the folder (close clients and drivers first). */
    async close() {
      for (const s of sims.splice(0)) await s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
