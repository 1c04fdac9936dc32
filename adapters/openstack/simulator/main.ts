/**
 * Entry point of the OpenStack simulator process that `vmconform lab up openstack` starts in the
 * background: `main.ts --port N --state-dir DIR --password-file FILE [--token-ttl S] [--step-ms MS]`.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SimCloud } from './cloud.js';
import { router } from './services.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '18780' },
    'state-dir': { type: 'string' },
    'password-file': { type: 'string' },
    'token-ttl': { type: 'string', default: '3600' },
    'step-ms': { type: 'string', default: '300' },
  },
});
if (!values['state-dir'] || !values['password-file']) {
  console.error('usage: main.ts --port N --state-dir DIR --password-file FILE [--token-ttl S] [--step-ms MS]');
  process.exit(2);
}
const sim = new SimCloud({
  port: Number(values.port),
  stateDir: values['state-dir'],
  password: readFileSync(values['password-file'], 'utf8').trim(),
  tokenTtlS: Number(values['token-ttl']),
  stepMs: Number(values['step-ms']),
});
await sim.init();
const srv = await sim.listen(router(sim));
console.log(`openstack simulator listening on ${sim.base} (state ${values['state-dir']})`);
for (const sig of ['SIGTERM', 'SIGINT'] as const)
  process.on(sig, () => {
    sim.stop();
    srv.close();
    process.exit(0);
  });
