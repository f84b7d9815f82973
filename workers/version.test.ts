import path from "node:path";
import { sql } from "drizzle-orm";
import { execa, type ResultPromise } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { rawRun, rawValue } from "@/server/db/sql";
import { makeWorld, type TestWorld, worldEnv } from "@/test-support/fixtures";

// A worker of another version (issue 21): a host left on the old release while another, newer
// one migrates the shared database. A running worker notices and stops (exit 2) saying what to
// do; started again, it is refused at once with the same words; so is a CLI run. On both
// engines (`npm run test:pg` runs it on PostgreSQL).

const BIN = path.resolve("bin/hyperion.mjs");
let world: TestWorld;
const running: ResultPromise[] = [];

beforeEach(async () => {
  world = await makeWorld();
});
afterEach(async () => {
  for (const child of running.splice(0)) {
    child.kill("SIGKILL");
    await child.catch(() => undefined);
  }
  await world.cleanup();
});

const hyperion = (args: string[]) => {
  const child = execa("node", [BIN, ...args], {
    env: { ...worldEnv(world), HYPERION_POLL_MS: "50" },
    reject: false,
  });
  running.push(child);
  return child;
};

/** What a newer release leaves in drizzle's table: a migration later than any this build has. */
async function migrateAsNewerRelease(): Promise<void> {
  const table = world.env.HYPERION_DATABASE_URL
    ? sql`drizzle.__drizzle_migrations`
    : sql`__drizzle_migrations`;
  const last = Number(await rawValue(world.db, sql`SELECT max(created_at) FROM ${table}`));
  await rawRun(
    world.db,
    sql`INSERT INTO ${table} (hash, created_at) VALUES (${"a-newer-release"}, ${last + 86_400_000})`,
  );
}

const UPGRADE =
  /migrated by a newer Hyperion \(1 migration this version does not have\): upgrade this host/;

describe("a worker of another version", () => {
  it("a running worker stops with exit 2 when a newer host migrates; it is refused when started again", async () => {
    const worker = hyperion(["worker", "--threads", "1"]);
    // Running: its supervisor has beaten.
    for (let i = 0; ; i++) {
      const beats = Number(
        await rawValue(
          world.db,
          sql`SELECT count(*) FROM worker_heartbeats WHERE role = 'supervisor' AND pid = ${worker.pid ?? -1} AND stopped_at IS NULL`,
        ),
      );
      if (beats > 0) break;
      if (worker.exitCode !== null) throw new Error(`the worker ended: ${(await worker).stderr}`);
      if (i > 3000) throw new Error("the worker did not beat in 3000 polls");
      await new Promise((r) => setTimeout(r, 50));
    }

    await migrateAsNewerRelease();
    const stopped = await worker;
    expect(stopped.exitCode).toBe(2);
    expect(stopped.stderr).toMatch(UPGRADE);
    // It stopped cleanly: its heartbeat says so, and it holds nothing.
    expect(
      Number(
        await rawValue(
          world.db,
          sql`SELECT count(*) FROM worker_heartbeats WHERE pid = ${worker.pid ?? -1} AND stopped_at IS NULL`,
        ),
      ),
    ).toBe(0);

    const again = await hyperion(["worker"]);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toMatch(UPGRADE);
    expect(again.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);

    const status = await hyperion(["status"]);
    expect(status.exitCode).not.toBe(0);
    expect(status.stderr).toMatch(UPGRADE);
  }, 120_000);
});
