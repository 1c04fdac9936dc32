/**
 * Re-records the OpenStack fixtures the unit tests parse (fixtures/openstack/sim-*.json): responses of
 * the lab's simulator, whose shapes follow the published API references, including error bodies and
 * a server `fault`. The keystone-*.json fixtures were recorded from a real Keystone 22 (Zed) on this
 * machine and are not rewritten here.
 * Usage: node scripts/bin.mjs lab up openstack && npx tsx scripts/record-openstack-fixtures.ts
 * With --real it records from the real Zed lab instead (scripts/record-openstack-real.ts, into
 * adapters/openstack/fixtures/real-*.json).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadLabConfig } from '../adapters/lab-config.js';
import type { OpenStackDriver } from '../adapters/openstack/adapter.js';
import type { ServiceType } from '../adapters/openstack/client.js';
import { connectTarget } from '../adapters/platforms.js';
import { Transcript } from '../evidence/transcript.js';
import { repoRoot } from '../run/vitest-run.js';

if (process.argv.includes('--real')) {
  await import('./record-openstack-real.js');
  process.exit(0);
}

const dir = join(repoRoot, 'fixtures/openstack');
const { config } = await loadLabConfig(join(repoRoot, 'lab/lab.local.yaml'));
const t = await connectTarget('openstack', config.platforms, {
  runId: '20261125t0000-f1f1',
  transcript: new Transcript(),
});
const driver = t.driver as OpenStackDriver;
const s = driver.session;
const save = async (name: string, body: unknown) =>
  writeFile(join(dir, `sim-${name}.json`), `${JSON.stringify(body, null, 2)}\n`);
const raw = async (svc: ServiceType, method: string, path: string, json?: unknown) => {
  const r = await s.call(svc, method, path, { ...(json ? { json } : {}), okStatuses: [400, 404, 409, 413] });
  return r.body;
};
const vm = (
  await driver.create({
    name: 'vmc-20261125t0000-f1f1-rec',
    vcpus: 1,
    memoryMiB: 256,
    image: t.lab.image,
    disks: [{ name: 'data1', sizeBytes: 1024 ** 3 }],
    nics: [
      { network: t.lab.network, mac: '52:54:00:aa:00:01' },
      { network: t.lab.network2, mac: '52:54:00:aa:00:02' },
    ],
    metadata: { tenant: 'acme', project: 'web', environment: 'prod' },
    userData: '#!/bin/sh\nexit 0\n',
  })
).result;
try {
  await save('server-shutoff', await raw('compute', 'GET', `/servers/${vm.id}`));
  await driver.start(vm);
  await new Promise((r) => setTimeout(r, 1500));
  await save('server-active', await raw('compute', 'GET', `/servers/${vm.id}`));
  await save('volume-attachments', await raw('compute', 'GET', `/servers/${vm.id}/os-volume_attachments`));
  await save('interface-attachments', await raw('compute', 'GET', `/servers/${vm.id}/os-interface`));
  await save('instance-actions', await raw('compute', 'GET', `/servers/${vm.id}/os-instance-actions`));
  const actions = (await raw('compute', 'GET', `/servers/${vm.id}/os-instance-actions`)) as {
    instanceActions: { request_id: string }[];
  };
  await save(
    'instance-action-create',
    await raw('compute', 'GET', `/servers/${vm.id}/os-instance-actions/${actions.instanceActions[0]?.request_id}`),
  );
  await save(
    'console-output',
    await raw('compute', 'POST', `/servers/${vm.id}/action`, { 'os-getConsoleOutput': { length: 20 } }),
  );
  await save('diagnostics', await raw('compute', 'GET', `/servers/${vm.id}/diagnostics`));
  await save('error-start-conflict', await raw('compute', 'POST', `/servers/${vm.id}/action`, { 'os-start': null }));
  await save('volumes', await raw('volumev3', 'GET', '/volumes/detail'));
  await save('pools', await raw('volumev3', 'GET', '/scheduler-stats/get_pools?detail=true'));
  await save(
    'error-volume-extend',
    await raw('volumev3', 'POST', `/volumes/00000000-0000-0000-0000-000000000000/action`, {
      'os-extend': { new_size: 2 },
    }),
  );
  await save('hypervisors', await raw('compute', 'GET', '/os-hypervisors/detail'));
  await save('availability-zones', await raw('compute', 'GET', '/os-availability-zone/detail'));
  await save('aggregates', await raw('compute', 'GET', '/os-aggregates'));
  const hyp = (await raw('compute', 'GET', '/os-hypervisors/detail')) as { hypervisors: { id: string }[] };
  await save(
    'placement-inventories',
    await raw('placement', 'GET', `/resource_providers/${hyp.hypervisors[0]?.id}/inventories`),
  );
  await save('placement-usages', await raw('placement', 'GET', `/resource_providers/${hyp.hypervisors[0]?.id}/usages`));
  await save(
    'error-placement-404',
    await raw('placement', 'GET', '/resource_providers/00000000-0000-0000-0000-000000000000/inventories'),
  );
  await save('images', await raw('image', 'GET', '/v2/images'));
  await save('networks', await raw('network', 'GET', '/v2.0/networks'));
  await save('error-neutron-404', await raw('network', 'GET', '/v2.0/networks/00000000-0000-0000-0000-000000000000'));
  await save('error-nova-404', await raw('compute', 'GET', '/servers/00000000-0000-0000-0000-000000000000'));
  await save(
    'error-nova-bad-image',
    await raw('compute', 'POST', '/servers', { server: { name: 'vmc-x', flavorRef: 'nope', imageRef: 'nope' } }),
  );
  const glance = await s.call('image', 'GET', '/v2/images/00000000-0000-0000-0000-000000000000', { okStatuses: [404] });
  await writeFile(join(dir, 'sim-error-glance-404.txt'), glance.text);
  const root = config.platforms.openstack?.authUrl.replace(/\/identity\/v3$/, '') ?? '';
  for (const svc of ['compute', 'volume', 'placement'])
    await save(`${svc}-versions`, await (await fetch(`${root}/${svc}/`)).json());
  // A server the scheduler cannot place: status ERROR with the reason in `fault`.
  const big = await raw('compute', 'POST', '/flavors', {
    flavor: { name: 'vmc-fixture-huge', vcpus: 64, ram: 1024, disk: 0 },
  }).catch(() => undefined);
  const flavorId = (big as { flavor?: { id: string } })?.flavor?.id;
  const image = (await driver.images()).find((i) => i.name === t.lab.image)?.id;
  const bad = (await raw('compute', 'POST', '/servers', {
    server: {
      name: 'vmc-20261125t0000-f1f1-fault',
      flavorRef: flavorId,
      networks: 'none',
      block_device_mapping_v2: [
        {
          boot_index: 0,
          source_type: 'image',
          destination_type: 'volume',
          uuid: image,
          volume_size: 1,
          delete_on_termination: true,
        },
      ],
      metadata: { 'vmconform:marker': 'vmconform', 'vmconform:run': '20261125t0000-f1f1' },
    },
  })) as { server: { id: string } };
  await new Promise((r) => setTimeout(r, 1500));
  await save('server-error-fault', await raw('compute', 'GET', `/servers/${bad.server.id}`));
  await raw('compute', 'DELETE', `/servers/${bad.server.id}`);
} finally {
  await driver.delete(vm).catch((e) => console.error(String(e)));
  await driver.close();
}
console.log(`recorded fixtures into ${dir}`);
