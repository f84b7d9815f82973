import path from "node:path";
import { defineConfig } from "vitest/config";

/**
 * Files that run alone, after the rest: they race real workers against leases of 0.8 to 1.5 s
 * and stall timers, and a second CPU-bound file beside them on 2 cores would make a lease or a
 * stall timer run out for want of CPU, not for a bug (README, "Test it"). The multi-host and
 * outage tests (5-s leases, mostly waiting on 1-s checks and a 30-s outage) run with the rest:
 * they passed at a load average of 15 to 30.
 */
export const ALONE = [
  "server/queue/worker.test.ts",
  "server/hostile/sigkill-path.test.ts",
  "server/runs/cli-supervision.test.ts",
  // Not for timing: it scrapes the production build in .next, which `npm test` (bin/test.mjs)
  // builds beside the "unit" project; the "alone" project runs after the build has finished.
  "server/metrics/prometheus.test.ts",
];
const INCLUDE = ["{schemas,server,workers,bench,test-support}/**/*.test.ts"];
/**
 * Files that replace a module with vi.mock: in a worker that already loaded the real module for
 * an earlier file, the mock would not take, so these get a fresh module graph of their own
 * (test-support/vitest-config.test.ts fails for a file that mocks and is not listed).
 */
export const MOCKING = ["server/dispatch/settle.test.ts", "server/metrics/metrics.test.ts"];

export default defineConfig({
  resolve: { alias: { "@": path.resolve(import.meta.dirname) } },
  test: {
    environment: "node",
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    // Under `npm run test:pg`, one PostgreSQL cluster for the run (README, "Test it"); otherwise
    // it returns at once.
    globalSetup: ["test-support/postgres-setup.ts"],
    // The cheapest password hashes: the suite hashes hundreds (server/users/passwords.ts).
    env: { HYPERION_PASSWORD_COST: "minimal" },
    projects: [
      {
        extends: true,
        // Two files at a time: most wait on git, child processes and disks more than on a CPU.
        // One module graph per worker rather than per file: loading it again for each of 130
        // files took 214 s of import time in a clean-clone run, 44 s without. What a file changes
        // in the process (its environment, the SQL engine) is put back by test-support/per-file.ts
        // before the next file.
        test: {
          name: "unit",
          include: INCLUDE,
          exclude: [...ALONE, ...MOCKING],
          isolate: false,
          setupFiles: ["test-support/per-file.ts"],
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "unit-mocking",
          include: MOCKING,
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: { name: "alone", include: ALONE, maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
