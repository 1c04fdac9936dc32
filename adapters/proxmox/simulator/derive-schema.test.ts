import { describe, expect, test } from 'vitest';
import { derive, deriveLenient, differences, used } from './derive-schema.js';
import { loadSchema } from './schema.js';

const apidata = (props: Record<string, unknown>) =>
  `const apiSchema = ${JSON.stringify([
    {
      path: '/version',
      text: 'version',
      info: {
        GET: { method: 'GET', parameters: { properties: props }, returns: { type: 'object', description: 'x' } },
      },
    },
  ])};\nlet x = 1;`;
const source = { repo: 'r', commit: 'c', version: '8.4.0' };

describe('derive-proxmox-schema', () => {
  test('a path or parameter the upstream schema lacks is an error, never invented', () => {
    expect(() => derive(apidata({}), source)).toThrow(/not in the upstream schema/);
  });

  test('an older release is compared, not required: what it lacks or returns differently is recorded', () => {
    const now = deriveLenient(apidata({}).replace('"type":"object","description":"x"', '"type":"string"'));
    expect(differences(now, deriveLenient(apidata({})))).toEqual({ 'GET /version': { returns: { type: 'object' } } });
    expect(differences(now, now)).toEqual({});
    // A parameter both define, defined differently (here a wider enumeration), is recorded as the other's definition.
    const one = (e: string[]) => ({
      endpoints: { 'GET /version': { parameters: { x: { type: 'string', enum: e } }, returns: { type: 'object' } } },
    });
    const [base, other] = [one(['a']), one(['a', 'b'])];
    expect(differences(base, other)).toEqual({
      'GET /version': { parameters: { x: { type: 'string', enum: ['a', 'b'] } } },
    });
  });

  test('the committed reduced schema records its source and covers exactly what the adapter uses', () => {
    const s = loadSchema();
    expect(s.source).toMatchObject({ repo: 'https://github.com/proxmox/pve-docs', file: 'api-viewer/apidata.js' });
    expect(s.source.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(s.source.version).toMatch(/^\d+\.\d+/);
    expect(Object.keys(s.endpoints).sort()).toEqual(Object.keys(used).sort());
    for (const [key, names] of Object.entries(used))
      for (const n of names) expect(s.endpoints[key]?.parameters[n], `${key} ${n}`).toBeDefined();
  });
});
