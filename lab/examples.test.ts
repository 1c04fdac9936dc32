/** Every example lab config the README points people at must pass the schema as shipped. */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { configuredPlatforms, parseLabConfig } from './config.js';

const labDir = fileURLToPath(new URL('.', import.meta.url));
const examples = readdirSync(labDir, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => join(labDir, f));

describe('example lab configs', () => {
  test('there are examples for the local lab and for real hosts of every platform', () => {
    const names = examples.map((f) => relative(labDir, f)).sort();
    expect(names).toEqual(
      expect.arrayContaining([
        'lab.local.yaml',
        'libvirt/remote-host.example.yaml',
        'incus/remote-host.example.yaml',
        'proxmox/real-host.example.yaml',
        'openstack/real-cloud.example.yaml',
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
