import path from "node:path";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { alias: { "@": path.resolve(import.meta.dirname) } },
  test: {
    include: ["{schemas,server,workers,bench,test-support}/**/*.test.ts"],
    environment: "node",
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    // Under `npm run test:pg`, one PostgreSQL cluster for the run (README, "Test it"); otherwise
    // it returns at once.
    globalSetup: ["test-support/postgres-setup.ts"],
    // The cheapest password hashes: the suite hashes hundreds (server/users/passwords.ts).
    env: { HYPERION_PASSWORD_COST: "minimal" },
  },
});
