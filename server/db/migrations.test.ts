import fs from "node:fs";
import path from "node:path";
import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { tempDir } from "@/test-support/fixtures";
import { closeDb, openDb } from "./client";
import { rawAll, rawValue } from "./sql";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe("migrations", () => {
  it("bring an empty database to the current schema, with WAL and foreign keys on", async () => {
    const dir = tempDir();
    dirs.push(dir);
    const db = openDb(path.join(dir, "hyperion.db"));
    const tables = (
      await rawAll<{ name: string }>(
        db,
        sql`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`,
      )
    ).map((r) => r.name);
    expect(tables).toEqual(
      expect.arrayContaining([
        "api_tokens",
        "events",
        "login_attempts",
        "requests",
        "users",
        "worker_heartbeats",
      ]),
    );
    expect(await rawValue(db, sql`PRAGMA journal_mode`)).toBe("wal");
    expect(await rawValue(db, sql`PRAGMA foreign_keys`)).toBe(1);
    expect(await rawValue(db, sql`PRAGMA busy_timeout`)).toBe(5000);
    await closeDb(db);
  });

  it("are idempotent: opening the same file again applies nothing twice", async () => {
    const dir = tempDir();
    dirs.push(dir);
    const file = path.join(dir, "hyperion.db");
    await closeDb(openDb(file));
    const db = openDb(file);
    const applied = await rawValue(db, sql`SELECT count(*) FROM __drizzle_migrations`);
    expect(applied).toBe(
      fs.readdirSync(path.resolve("drizzle")).filter((f) => f.endsWith(".sql")).length,
    );
    await closeDb(db);
  });
});
