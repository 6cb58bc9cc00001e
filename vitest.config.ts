import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// Three projects: `unit` is the fast inner loop (no root, no docker); `e2e` and `faults` need the
// real environment that scripts/test-env provisions and are required in CI.
export default defineConfig({
  test: {
    // Vitest's default is one worker less than the cores: one on a 2-core machine, where the unit
    // tests then took 81 s instead of 55. The e2e run asks for 2 itself (scripts/test-full): more
    // servers at once than that only queue on the same two cores.
    maxWorkers: Math.max(2, availableParallelism() - 1),
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
          // Two test files at a time (--maxWorkers=2 in scripts/test-full and npm run test:e2e; 922 s
          // one at a time, 529 s two at a time): most of an end-to-end test is waiting on servers,
          // and each test bed has its own dirs, ports and labels, so two share dockerd and btrfs.
          pool: 'forks',
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
