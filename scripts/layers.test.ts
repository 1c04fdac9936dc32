import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importsOf, layerOf, violation } from './layers.js';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('import directions', () => {
  it('every import in the repository goes downward (and no platform folder imports another)', () => {
    const imports = importsOf(root);
    // Guards against a reader that finds nothing and so passes vacuously.
    expect(imports.length).toBeGreaterThan(300);
    expect(imports.map((i) => violation(i.from, i.to)).filter(Boolean)).toEqual([]);
  });

  it('names the layers and refuses the upward and sideways imports it exists to stop', () => {
    expect(layerOf('adapters/libvirt/adapter.ts')).toBe('adapters/<platform>/');
    expect(layerOf('adapters/contract/driver.ts')).toBe('adapters/contract/');
    expect(layerOf('adapters/platforms.ts')).toBe('adapters/');
    expect(violation('adapters/libvirt/adapter.ts', 'reports/score.ts')).toMatch(/may import only/);
    expect(violation('adapters/incus/mapping.ts', 'adapters/libvirt/mapping.ts')).toMatch(/no other platform/);
    expect(violation('reports/score.ts', 'suites/harness.ts')).toMatch(/reports\/ may import only/);
    expect(violation('evidence/bundle.ts', 'adapters/contract/driver.ts')).toMatch(/nothing else of the project/);
    expect(violation('suites/harness.ts', 'adapters/libvirt/target.ts')).toMatch(/suites\//);
    expect(violation('suites/harness.ts', 'evidence/checks.ts')).toBeUndefined();
    expect(violation('adapters/libvirt/adapter.ts', 'adapters/libvirt/mapping.ts')).toBeUndefined();
  });
});
