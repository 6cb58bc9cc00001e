import { defineConfig } from 'vitest/config';

// Two projects: `unit` is the fast inner loop (no root, no docker); `e2e` needs the real
// environment that scripts/test-env provisions and is required in CI.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/e2e/global-setup.ts'],
          testTimeout: 240_000,
          hookTimeout: 240_000,
          // One heavy suite at a time: the machine has 2 cores and the suites share dockerd/btrfs.
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
        },
      },
      {
        test: {
          // Issue 7's fault injection: the same real environment, faults applied on purpose.
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          globalSetup: ['test/e2e/global-setup.ts'],
          testTimeout: 600_000,
          hookTimeout: 240_000,
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
