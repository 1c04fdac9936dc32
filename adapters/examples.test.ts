/** Every example lab config the README points people at must pass the schema as shipped. */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { configuredPlatforms, parseLabConfig } from './lab-config.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const labDir = repoRoot;
// The local lab's config and every platform folder's examples for real hosts.
const examples = [
  join(repoRoot, 'lab/lab.local.yaml'),
  ...readdirSync(join(repoRoot, 'adapters'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => join(repoRoot, 'adapters', f)),
];

describe('example lab configs', () => {
  test('there are examples for the local lab and for real hosts of every platform', () => {
    const names = examples.map((f) => relative(labDir, f)).sort();
    expect(names).toEqual(
      expect.arrayContaining([
        'lab/lab.local.yaml',
        'adapters/libvirt/remote-host.example.yaml',
        'adapters/incus/remote-host.example.yaml',
        'adapters/proxmox/real-host.example.yaml',
        'adapters/openstack/real-cloud.example.yaml',
      ]),
    );
  });

  for (const file of examples) {
    test(`${relative(labDir, file)} is a valid lab config`, () => {
      const config = parseLabConfig(readFileSync(file, 'utf8'), file);
      expect(configuredPlatforms(config).length).toBeGreaterThan(0);
    });
  }
});
