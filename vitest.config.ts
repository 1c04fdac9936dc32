import { defineConfig } from 'vitest/config';

// Three projects: fast unit tests beside the code, harness tests against the live lab, and the
// conformance suites. Conformance files run one at a time in one fork: they share one lab and its daemons.
// Projects run in parallel unless grouped: the lab tests kill, stop and restart libvirtd and run whole
// evaluations, so they run in their own group after the unit tests and before the conformance suites.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          sequence: { groupOrder: 0 },
          include: ['**/*.test.ts'],
          exclude: ['node_modules/**', 'fixtures/**'],
          testTimeout: 20_000,
        },
      },
      {
        // Harness behaviour against the live lab (ownership, sweeping, secrets in a real run's output): not requirement evidence.
        test: {
          name: 'lab',
          sequence: { groupOrder: 1 },
          include: ['**/*.lab.ts'],
          exclude: ['node_modules/**'],
          pool: 'forks',
          maxWorkers: 1,
          testTimeout: 300_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'conformance',
          sequence: { groupOrder: 2 },
          include: ['suites/**/*.conformance.ts'],
          pool: 'forks',
          fileParallelism: false,
          maxWorkers: 1,
          // Waits are bounded by declared wait policies; this is only the outer backstop.
          testTimeout: 600_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
