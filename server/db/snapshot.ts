import fs from "node:fs";
import { sql } from "drizzle-orm";
import type { RootDb } from "./client";
import { rawRun } from "./sql";
import { appliedMigrations } from "./version";

// `hyperion backup`'s database part: a consistent copy of a running install's SQLite file.
// VACUUM INTO reads the database in one read transaction (WAL: writers go on meanwhile) and
// writes a compact, self-contained file (no -wal beside it), as of one commit.

export class SnapshotUnsupported extends Error {
  override name = "SnapshotUnsupported";
}

/**
 * Copies the database into `file` (which must not exist) while others write; returns the
 * migrations the copy is at. On PostgreSQL there is no file to copy: SnapshotUnsupported
 * (pg_dump is the tool, docs/storage.md).
 */
export async function snapshotDatabase(
  db: RootDb,
  file: string,
): Promise<{ migrations: number[] }> {
  if (db.$dialect !== "sqlite")
    throw new SnapshotUnsupported("the database is on PostgreSQL: back it up with pg_dump");
  if (fs.existsSync(file)) throw new Error(`${file} exists already`);
  await rawRun(db, sql`VACUUM INTO ${file}`);
  return { migrations: await appliedMigrations(db) };
}
