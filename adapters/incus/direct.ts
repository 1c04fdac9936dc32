/**
 * The bench's direct sequence for Incus: the lifecycle as raw REST calls over the same socket, with the
 * same request bodies, the same state check and the same 100 ms polling as the harness's run.
 */
import { type DirectBaseline, directPoll, type Target, waitFor } from '../contract/index.js';
import type { IncusDriver } from './adapter.js';
import type { IncusPlatformConfig } from './config.js';

export function incusRestDirect({
  section,
  target: t,
  runId,
}: {
  section: IncusPlatformConfig;
  target: Target;
  runId: string;
}): DirectBaseline {
  const driver = t.driver as unknown as IncusDriver;
  const client = driver.client;
  const ownerConfig = { 'user.vmconform.marker': 'vmconform', 'user.vmconform.run': runId };
  return {
    label: 'raw REST',
    async run(name) {
      const t0 = performance.now();
      const type = (await driver.capabilities()).instanceType === 'vm' ? 'virtual-machine' : 'container';
      await client.async('POST', '/1.0/instances', {
        json: {
          name,
          type,
          source: { type: 'image', alias: t.lab.image },
          config: { 'limits.cpu': '1', 'limits.memory': '256MiB', ...ownerConfig },
          devices: {
            root: { type: 'disk', path: '/', pool: section.pool },
            eth0: { type: 'nic', network: t.lab.network, hwaddr: '52:54:00:be:01:01', name: 'eth0' },
          },
        },
      });
      await client.async('PUT', `/1.0/instances/${name}/state`, { json: { action: 'start' } });
      await waitFor('direct running', directPoll, async () => {
        const r = await client.raw('GET', `/1.0/instances/${name}/state`);
        return (JSON.parse(r.text) as { metadata?: { status?: string } }).metadata?.status === 'Running'
          ? true
          : undefined;
      });
      await waitFor('direct READY', directPoll, async () => {
        const r = await client
          .raw('GET', `/1.0/instances/${name}/files`, { query: { path: '/var/log/vmc/console.log' } })
          .catch(() => undefined);
        return r?.text.includes('VMC READY') ? true : undefined;
      });
      await client.async('PUT', `/1.0/instances/${name}/state`, { json: { action: 'stop', timeout: 60 } });
      await client.async('DELETE', `/1.0/instances/${name}`);
      return performance.now() - t0;
    },
  };
}
