/**
 * A fifth platform is its folder plus one descriptor in the registration list: this registers a throwaway
 * one (an adapter with no parts, so Unsupported everywhere) beside the four real descriptors and shows
 * everything derived from the list accepts it without another edit.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseBundle } from '../evidence/bundle.js';
import { Unsupported } from '../evidence/errors.js';
import { makeBundle } from '../evidence/testkit.js';
import { Transcript } from '../evidence/transcript.js';
import { AdapterBase, composeDriver, definePlatform, type Target } from './contract/index.js';
import { incus } from './incus/index.js';
import { labConfigSchema, labConfigSchemaFor } from './lab-config.js';
import { libvirt } from './libvirt/index.js';
import { openstack } from './openstack/index.js';
import { platforms, registry } from './platforms.js';
import { proxmox } from './proxmox/index.js';
import { createRegistry, platformNamePattern } from './registry.js';

const fifth = definePlatform({
  name: 'fifth',
  configSchema: z.strictObject({ endpoint: z.string().default('https://fifth.invalid') }),
  connect: async (_section, opts): Promise<Target> => ({
    driver: composeDriver(new AdapterBase('fifth', opts), {}),
    lab: { network: 'n', network2: 'n', image: 'i' },
    control: {},
    runId: opts.runId,
  }),
  labs: { fifth: async () => ({ up: async () => undefined, down: async () => undefined, status: async () => null }) },
});

// The registration list of adapters/platforms.ts with one more line.
const withFifth = createRegistry([libvirt, incus, proxmox, openstack, fifth] as const);
const opts = { runId: '20261206t2300-abcd', transcript: new Transcript() };

describe('the registration list', () => {
  it('is the four platforms, in order, and the lab config schema is built from it', () => {
    expect(platforms).toEqual(['libvirt', 'incus', 'proxmox', 'openstack']);
    expect(registry.names).toBe(platforms);
    expect(labConfigSchema.shape.platforms).toBe(registry.platformsSchema);
  });

  // The report reads a platform's manual assessments from reports/assessments/<name>.yaml by convention.
  it('gives every registered platform a manual assessment file', () => {
    for (const p of platforms)
      expect(existsSync(new URL(`../reports/assessments/${p}.yaml`, import.meta.url)), `${p}.yaml`).toBe(true);
  });
});

describe('a fifth platform registered with one more descriptor', () => {
  it('is in the platform names, after the four', () => {
    expect(withFifth.names).toEqual([...platforms, 'fifth']);
    expect(withFifth.isPlatform('fifth')).toBe(true);
    expect(registry.isPlatform('fifth')).toBe(false);
  });

  it('gets a section in the lab config schema, with its own defaults, and is named when none is given', () => {
    const schema = labConfigSchemaFor(withFifth);
    expect(schema.parse({ platforms: { fifth: {} } }).platforms).toEqual({
      fifth: { endpoint: 'https://fifth.invalid' },
    });
    expect(schema.safeParse({ platforms: { fifth: { endpoint: 1 } } }).success).toBe(false);
    expect(JSON.stringify(schema.safeParse({ platforms: {} }).error?.issues)).toContain(
      'at least one platform (libvirt, incus, proxmox, openstack, fifth)',
    );
    // The registered list's schema does not know it.
    expect(labConfigSchema.safeParse({ platforms: { fifth: {} } }).success).toBe(false);
  });

  it('connects through the registry to a driver that answers Unsupported (adapter) for everything', async () => {
    const t = await withFifth.connect('fifth', { fifth: { endpoint: 'https://fifth.invalid' } }, opts);
    expect(t.driver.platform).toBe('fifth');
    for (const call of [() => t.driver.capabilities(), () => t.driver.create({} as never), () => t.driver.hosts()]) {
      const e = await call().catch((x: unknown) => x);
      expect(e).toBeInstanceOf(Unsupported);
      expect((e as Unsupported).by).toBe('adapter');
      expect((e as Error).message).toMatch(/^fifth adapter: /);
    }
    await expect(t.driver.close()).resolves.toBeUndefined();
    await expect(withFifth.connect('fifth', {}, opts)).rejects.toThrow(/platforms\.fifth: missing from the lab config/);
  });

  it('brings its lab into the lab list and into a run of it', () => {
    expect(Object.keys(withFifth.labs)).toEqual([...Object.keys(registry.labs), 'fifth']);
    expect(withFifth.labsFor({ fifth: {} }, ['fifth'])).toEqual(['fifth']);
  });

  it('is a valid platform field of an evidence bundle', () => {
    expect(platformNamePattern.test('fifth')).toBe(true);
    expect(parseBundle(makeBundle('fifth', {}), 'results.json').platform).toBe('fifth');
  });

  it('is refused when registered twice or with a name unfit for paths and subjects', () => {
    expect(() => createRegistry([libvirt, fifth, fifth])).toThrow(/platform 'fifth' is registered twice/);
    expect(() => createRegistry([{ ...fifth, name: 'Fifth' }])).toThrow(/name 'Fifth' must match/);
  });
});
