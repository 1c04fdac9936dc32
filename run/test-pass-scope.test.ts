import { describe, expect, it } from 'vitest';
import { registry } from '../adapters/platforms.js';
import { select } from './selection.js';
import { testPassScope } from './test-pass-scope.js';

describe('test pass scope', () => {
  it('names registered platforms and requirements that have tests, and leaves out exactly those', () => {
    for (const [platform, scope] of Object.entries(testPassScope)) {
      expect(registry.names).toContain(platform);
      const sel = select({ skip: scope.skip });
      expect(sel.skipped.map((s) => s.id).sort()).toEqual(scope.skip.split(',').sort());
    }
  });
});
