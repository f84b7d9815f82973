import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { tempDir } from "@/test-support/fixtures";
import { openDb } from "./client";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe("migrations", () => {
  it("bring an empty database to the current schema, with WAL and foreign keys on", () => {
    const dir = tempDir();
    dirs.push(dir);
    const db = openDb(path.join(dir, "hyperion.db"));
    const tables = db.$client
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .pluck()
      .all();
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
    expect(db.$client.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.$client.pragma("foreign_keys", { simple: true })).toBe(1);
    expect(db.$client.pragma("busy_timeout", { simple: true })).toBe(5000);
    db.$client.close();
  });

  it("are idempotent: opening the same file again applies nothing twice", () => {
    const dir = tempDir();
    dirs.push(dir);
    const file = path.join(dir, "hyperion.db");
    openDb(file).$client.close();
    const db = openDb(file);
    const applied = db.$client.prepare("SELECT count(*) FROM __drizzle_migrations").pluck().get();
    expect(applied).toBe(
      fs.readdirSync(path.resolve("drizzle")).filter((f) => f.endsWith(".sql")).length,
    );
    db.$client.close();
  });
});
