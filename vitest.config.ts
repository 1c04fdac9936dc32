import { defineConfig } from 'vitest/config';

// Two projects: fast unit tests beside the code, and live conformance suites against a lab.
// Conformance files run one at a time in one fork: they share one lab and its daemons.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            'adapters/**/*.test.ts',
            'suites/**/*.test.ts',
            'reports/**/*.test.ts',
            'lab/**/*.test.ts',
            'scripts/**/*.test.ts',
          ],
          testTimeout: 20_000,
        },
      },
      {
        // Harness behaviour against the live lab (ownership, sweeping, secrets in a real run's output): not requirement evidence.
        test: {
          name: 'lab',
          include: ['scripts/**/*.lab.ts', 'reports/**/*.lab.ts'],
          pool: 'forks',
          maxWorkers: 1,
          testTimeout: 300_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'conformance',
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
