/**
 * `vmconform bridge` end to end on the real lab: a change made on libvirt reaches a NATS consumer as
 * JSON on vmconform.libvirt.lifecycle, and Ctrl-C ends the bridge with its summary and exit 0.
 */
import { join } from 'node:path';
import { execa } from 'execa';
import { connect } from 'nats';
import { describe, expect, it } from 'vitest';
import { newRunId } from '../adapters/contract/index.js';
import { loadLabConfig } from '../adapters/lab-config.js';
import { connectTarget } from '../adapters/platforms.js';
import { Transcript } from '../evidence/transcript.js';
import type { BridgeMessage } from '../features/bridge-message.js';
import { defaultWaitPolicies, waitFor } from '../host/wait.js';
import { repoRoot } from './vitest-run.js';

describe('vmconform bridge', () => {
  it('publishes a platform change to NATS and prints its summary on Ctrl-C', async () => {
    const { config } = await loadLabConfig(join(repoRoot, 'lab/lab.local.yaml'));
    const url = config.nats?.url ?? 'nats://127.0.0.1:4222';
    const nc = await connect({ servers: url });
    const got: BridgeMessage[] = [];
    const dec = new TextDecoder();
    nc.subscribe('vmconform.libvirt.>', {
      callback: (err, m) => void (err || got.push(JSON.parse(dec.decode(m.data)) as BridgeMessage)),
    });
    await nc.flush();
    // Its own process group, like a terminal's foreground job: Ctrl-C reaches the bridge and its virsh child.
    const bridge = execa('node', [join(repoRoot, 'scripts/bin.mjs'), 'bridge', '-p', 'libvirt', '--nats', url], {
      cwd: repoRoot,
      stdin: 'ignore',
      reject: false,
      detached: true,
    });
    const t = await connectTarget('libvirt', config.platforms, { runId: newRunId(), transcript: new Transcript() });
    let vmName = '';
    try {
      let out = '';
      bridge.stdout?.on('data', (b: Buffer) => {
        out += b.toString();
      });
      await waitFor('the bridge to connect', defaultWaitPolicies.device, async () =>
        /bridging libvirt/.test(out) || bridge.exitCode !== null ? true : undefined,
      );
      // The platform's event stream is live once a change shows up: one probe VM per second until one does (bounded).
      const probes = { deadlineMs: 30_000, intervalMs: 1_000, backoff: 1, maxIntervalMs: 1_000 };
      const { value } = await waitFor('a change to come through the bridge', probes, async () => {
        const vm = await t.driver.create({
          name: `vmc-${t.runId}-bridge${got.length}`,
          vcpus: 1,
          memoryMiB: 64,
          image: t.lab.image,
          disks: [],
          nics: [],
          metadata: {},
        });
        await t.driver.delete(vm.result);
        vmName = vm.result.name;
        return got.find((m) => m.vm === vmName && /Undefined/.test(m.detail));
      });
      expect(value).toMatchObject({ subject: 'vmconform.libvirt.lifecycle', platform: 'libvirt', kind: 'lifecycle' });
      expect(value.platformAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    } finally {
      if (bridge.pid) process.kill(-bridge.pid, 'SIGINT');
      await nc.drain();
      for (const o of (await t.driver.owned()).filter((o) => o.runId === t.runId))
        await t.driver.delete({ id: o.id, name: o.name }).catch(() => undefined);
    }
    const done = await bridge;
    expect(done.exitCode, done.stderr).toBe(0);
    expect(done.stdout).toMatch(/bridge stopped after [\d.]+ s: \d+ messages \(.*vmconform\.libvirt\.lifecycle: \d+/);
    expect(done.stdout).toContain(vmName);
  });
});
