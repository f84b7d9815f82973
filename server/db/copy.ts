import { createHash } from "node:crypto";
import { asc, getTableColumns, sql } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";
import { getTableConfig, type SQLiteTable } from "drizzle-orm/sqlite-core";
import { closeDb, migrateDb, openDb, type RootDb } from "./client";
import { tableNames } from "./schema";
import { pgTables } from "./schema/pg";
import * as sqliteTables from "./schema/tables";
import { assertSchemaCurrent } from "./version";

// `hyperion migrate-to-postgres`: an SQLite install's every row, copied into an empty
// PostgreSQL database in one transaction, then read back from both and compared table by
// table (rows and a digest of their values). Values are stored the same way on both engines
// (server/db/schema/pg.ts), so rows copy unchanged; identities then continue after the
// largest id copied.

export type TableCopy = { table: string; rows: number; digest: string };
export type CopyReport = { tables: TableCopy[]; rows: number };

export class CopyError extends Error {
  override name = "CopyError";
}

const BATCH = 500;

type Row = Record<string, unknown>;
const sqliteOf = (name: string) => (sqliteTables as unknown as Record<string, SQLiteTable>)[name];

/** Tables in an order that satisfies every foreign key: a table after those it refers to. */
function copyOrder(): string[] {
  const deps = new Map<string, string[]>();
  const nameOf = new Map<string, string>();
  for (const n of tableNames) nameOf.set(getTableConfig(sqliteOf(n) as SQLiteTable).name, n);
  for (const n of tableNames) {
    const cfg = getTableConfig(sqliteOf(n) as SQLiteTable);
    deps.set(
      n,
      cfg.foreignKeys
        .map((f) => nameOf.get(getTableConfig(f.reference().foreignTable).name) as string)
        .filter((d) => d !== n),
    );
  }
  const out: string[] = [];
  const visit = (n: string, seen: Set<string>) => {
    if (out.includes(n) || seen.has(n)) return;
    seen.add(n);
    for (const d of deps.get(n) ?? []) visit(d, seen);
    out.push(n);
  };
  for (const n of tableNames) visit(n, new Set());
  return out;
}

/** The primary key's columns (or every column), for reading rows in one order on both sides. */
function orderOf(table: SQLiteTable | PgTable) {
  const cols = getTableColumns(table);
  const pk = Object.values(cols).filter((c) => c.primary);
  return (pk.length ? pk : Object.values(cols)).map((c) => asc(c));
}

const digestOf = (rows: Row[]) =>
  createHash("sha256")
    .update(JSON.stringify(rows, (_k, v) => (typeof v === "bigint" ? Number(v) : v)))
    .digest("hex");

/** Reads a whole table in key order, a batch at a time. */
async function readAll(db: RootDb, table: SQLiteTable | PgTable): Promise<Row[]> {
  const rows: Row[] = [];
  for (let offset = 0; ; offset += BATCH) {
    // biome-ignore lint/suspicious/noExplicitAny: each engine's database reads its own tables
    const batch = (await (db as any)
      .select()
      .from(table)
      .orderBy(...orderOf(table))
      .limit(BATCH)
      .offset(offset)) as Row[];
    rows.push(...batch);
    if (batch.length < BATCH) return rows;
  }
}

/**
 * Copies the SQLite database `file` into the empty PostgreSQL database `url`, and checks the
 * copy. `progress` hears each table as it is done.
 */
export async function copyToPostgres(
  file: string,
  url: string,
  progress: (t: TableCopy) => void = () => {},
): Promise<CopyReport> {
  const source = openDb(file);
  let target: RootDb | undefined;
  try {
    target = openDb(url, { name: "hyperion-migrate" });
    await migrateDb(target);
    await assertSchemaCurrent(target);
    const pg = pgTables();
    const order = copyOrder();
    for (const n of order) {
      const [any] = await target
        .select({ one: sql`1` })
        .from(pg[n] as unknown as SQLiteTable)
        .limit(1);
      if (any)
        throw new CopyError(
          `the PostgreSQL database already has rows in ${getTableConfig(sqliteOf(n) as SQLiteTable).name}: copy into an empty database (createdb a new one)`,
        );
    }
    const copied: TableCopy[] = [];
    await target.transaction(async (tx) => {
      for (const n of order) {
        const rows = await readAll(source, sqliteOf(n) as SQLiteTable);
        for (let i = 0; i < rows.length; i += BATCH)
          // biome-ignore lint/suspicious/noExplicitAny: PostgreSQL's handle, its own table
          await (tx as any).insert(pg[n]).values(rows.slice(i, i + BATCH));
        const name = getTableConfig(sqliteOf(n) as SQLiteTable).name;
        // Identities go on after the largest id copied.
        const id = getTableColumns(sqliteOf(n) as SQLiteTable).id as
          | { autoIncrement?: boolean }
          | undefined;
        if (id?.autoIncrement && rows.length)
          // biome-ignore lint/suspicious/noExplicitAny: PostgreSQL's handle runs raw SQL by execute
          await (tx as any).execute(
            sql.raw(
              `SELECT setval(pg_get_serial_sequence('"${name}"', 'id'), (SELECT max(id) FROM "${name}"))`,
            ),
          );
        copied.push({ table: name, rows: rows.length, digest: digestOf(rows) });
      }
    });
    // The check: both sides read back, compared row count and digest, table by table.
    for (const [i, n] of order.entries()) {
      const back = await readAll(target, pg[n] as PgTable);
      const want = copied[i] as TableCopy;
      const got = { rows: back.length, digest: digestOf(back) };
      if (got.rows !== want.rows || got.digest !== want.digest)
        throw new CopyError(
          `the copy of ${want.table} differs from the original (${got.rows} rows read back, ${want.rows} copied): nothing was changed in SQLite; drop the PostgreSQL database and try again`,
        );
      progress(want);
    }
    return { tables: copied, rows: copied.reduce((s, t) => s + t.rows, 0) };
  } finally {
    await closeDb(source);
    if (target) await closeDb(target);
  }
}
