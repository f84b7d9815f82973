import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { type BetterSQLite3Database, drizzle } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { currentEnv } from "@/server/env.mjs";
import * as schema from "./schema";

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };
/** A transaction handle; services that only read and write take either. */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
export type DbLike = Db | Tx;

/**
 * Opens (creating if needed) the database file with the pragmas every connection needs:
 * WAL so readers never block the writer, NORMAL sync (safe under WAL), a busy timeout so
 * concurrent processes wait instead of failing, and foreign keys on.
 */
export function openDb(file: string, opts: { migrate?: boolean } = {}): Db {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const sqlite = new Database(file);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("busy_timeout = 5000");
  sqlite.pragma("foreign_keys = ON");
  const db = drizzle(sqlite, { schema });
  // Every transaction here reads before it writes; a deferred BEGIN would then fail with
  // SQLITE_BUSY (no wait) when another connection wrote in between. BEGIN IMMEDIATE takes the
  // write lock up front, so the busy timeout applies instead.
  const deferred = db.transaction.bind(db);
  db.transaction = ((fn, config) =>
    deferred(fn, { behavior: "immediate", ...config })) as typeof db.transaction;
  if (opts.migrate !== false) migrate(db, { migrationsFolder: migrationsFolder() });
  return db;
}

/**
 * HYPERION_MIGRATIONS, else the checkout's `drizzle/` (bin/hyperion.mjs sets HYPERION_ROOT so
 * the CLI finds it from any directory).
 */
export function migrationsFolder(): string {
  const env = currentEnv();
  return env.HYPERION_MIGRATIONS
    ? path.resolve(env.HYPERION_MIGRATIONS)
    : path.join(env.rootDir, "drizzle");
}

export function dbFile(dataDir: string): string {
  return path.join(dataDir, "hyperion.db");
}
