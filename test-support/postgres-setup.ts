import type { TestProject } from "vitest/node";

/**
 * vitest globalSetup (vitest.config.ts). Under `npm run test:pg` (HYPERION_TEST_ENGINE=postgres)
 * it starts one throwaway PostgreSQL cluster for the whole run and provides its base URL to the
 * test files, where `testDatabaseUrl()` (test-support/postgres.ts) makes a database per call; the
 * cluster is stopped and its folder removed at teardown, and also when the run is interrupted
 * (vitest exits at once on SIGINT/SIGTERM, without teardown). In the default SQLite mode it
 * returns at once and loads nothing.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | void> {
  if (process.env.HYPERION_TEST_ENGINE !== "postgres") return;
  const { startPostgres } = await import("./postgres");
  const cluster = await startPostgres({ prefix: "hyperion-test-pg-" });

  // The server runs in a session of its own (pg_ctl), so Ctrl-C does not reach it: stop it here.
  const onExit = () => cluster.stopSync();
  const onSignal = (signal: NodeJS.Signals) => {
    cluster.stopSync();
    // vitest's own handler exits; were it absent, end as the signal would have.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  process.once("exit", onExit);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  project.provide("hyperionPostgres", cluster.baseUrl);

  return async () => {
    process.off("exit", onExit);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await cluster.stop();
  };
}
