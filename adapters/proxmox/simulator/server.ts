/**
 * Entry point `vmconform lab up proxmox` starts in the background: the simulator on loopback with
 * the lab's certificate and token (read from its state directory, never from argv).
 *   node --import tsx adapters/proxmox/simulator/server.ts <state-dir> <port> <pve-version>
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProxmoxSimulator } from './simulator.js';

const [dir, port, version] = process.argv.slice(2);
if (!dir || !port || !version) {
  process.stderr.write('usage: server.ts <state-dir> <port> <pve-version>\n');
  process.exit(2);
}
const read = (f: string) => readFileSync(join(dir, f), 'utf8');
const sim = new ProxmoxSimulator({
  version,
  node: 'pve1',
  tokenId: read('token-id').trim(),
  tokenSecret: read('token-secret').trim(),
  cert: read('cert.pem'),
  key: read('key.pem'),
  port: Number(port),
  snippetsDir: join(dir, 'snippets'),
});
// A restart (the lab's stand-in for restarting pvedaemon/pveproxy) keeps the cluster's state.
const statePath = join(dir, 'cluster-state.json');
if (existsSync(statePath)) sim.load(readFileSync(statePath, 'utf8'));
else sim.addTemplate(9000, 'vmc-base-v1', 'VMCIMG:base-v1');
const { port: bound } = await sim.listen();
process.stdout.write(`proxmox simulator ${version} listening on https://127.0.0.1:${bound}/api2/json\n`);
const stop = () => {
  const save = () => {
    if (sim.busy) return void setTimeout(save, 50);
    writeFileSync(statePath, sim.snapshot());
    void sim.close().then(() => process.exit(0));
  };
  save();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
