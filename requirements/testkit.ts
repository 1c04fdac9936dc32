/** A made-up requirement for unit tests: every field filled, the given ones overridden. */
import type { Requirement } from './registry.js';

export function fakeRequirement(overrides: Partial<Requirement> & { id: string }): Requirement {
  return {
    title: 't',
    evidence: 'e',
    adrSection: 'Mandatory platform requirements',
    adrClause: 'non-interactive automation',
    dimension: 'lifecycle',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/a.conformance.ts',
    manual: false,
    ...overrides,
  };
}
