import { AsyncLocalStorage } from "node:async_hooks";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type { SQL } from "drizzle-orm";
import { drizzle as drizzleSync } from "drizzle-orm/better-sqlite3";
import { migrate as migrateSqlite } from "drizzle-orm/better-sqlite3/migrator";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { migrate as migratePg } from "drizzle-orm/node-postgres/migrator";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import { drizzle as drizzleProxy, type SqliteRemoteDatabase } from "drizzle-orm/sqlite-proxy";
import pg from "pg";
import { currentEnv, type HyperionEnv } from "@/server/env.mjs";
import { type Dialect, selectDialect } from "./schema";

// One store, two engines. Services are written once, against an asynchronous drizzle database
// typed with the SQLite tables: on SQLite it is drizzle's sqlite-proxy over better-sqlite3, on
// PostgreSQL drizzle's node-postgres over a pool. Every query is awaited; `.get()`, `.all()`,
// `.run()` do not exist on PostgreSQL (server/house.test.ts refuses them), and raw SQL goes
// through server/db/sql.ts.
//
// Transactions stay atomic on both:
// - A transaction is ambient to the async flow that runs it (AsyncLocalStorage): a statement or
//   a transaction that flow starts through the database, not the handle (a helper that was
//   handed `db`), joins it, as a statement or a savepoint, on both engines. Work started by
//   anyone else never does.
// - SQLite: one connection per process (per thread), so a transaction holds a per-connection
//   lock for its whole body. A statement from any other async flow waits for it (the executor
//   below), so nothing outside a transaction runs inside it. BEGIN IMMEDIATE takes the file's
//   write lock up front, so other processes wait (busy timeout) rather than fail mid-way.
// - PostgreSQL: each transaction has a connection of its own and first takes the writers' lock
//   (an advisory lock), so writers go one at a time as on SQLite and no body ever runs twice.
//   The queue's claims alone run beside each other (concurrentTransaction): SERIALIZABLE, rows
//   taken FOR UPDATE SKIP LOCKED, run again when they lose a conflict (their bodies are SQL).

/** A process's database, as openDb made it. */
export type RootDb = SqliteRemoteDatabase & { readonly $dialect: Dialect };
/** A transaction handle. */
export type Tx = Parameters<Parameters<RootDb["transaction"]>[0]>[0];
/**
 * What services take: the database or a transaction's handle, which reads and writes the same
 * way (a transaction started on a handle is a savepoint in it).
 */
export type Db = RootDb | Tx;
export type DbLike = Db;

type Closer = () => Promise<void>;
const closers = new WeakMap<object, Closer>();
const sqliteHandles = new WeakMap<object, SqliteHandle>();
const pgPools = new WeakMap<object, pg.Pool>();

/** Where a process's database is: HYPERION_DATABASE_URL, else the SQLite file in the data folder. */
export function dbTarget(env: HyperionEnv): string {
  return env.HYPERION_DATABASE_URL ?? dbFile(env.dataDir);
}

export function dbFile(dataDir: string): string {
  return path.join(dataDir, "hyperion.db");
}

/**
 * How long PostgreSQL lets a session sit idle inside a transaction before it ends it: a host cut
 * off mid-transaction keeps its row locks until then (docs/deploy.md).
 */
const IDLE_IN_TRANSACTION_MS = 30_000;

export const isPostgresUrl = (target: string) => /^postgres(ql)?:\/\//i.test(target);

/**
 * Opens the database `target` names: a postgres:// URL, or an SQLite file (created if needed,
 * and migrated unless `migrate: false`). PostgreSQL is migrated by `migrateDb`, which is
 * asynchronous; `bootstrap` runs it for both.
 */
export function openDb(
  target: string,
  opts: { migrate?: boolean; name?: string; connections?: number } = {},
): RootDb {
  if (isPostgresUrl(target)) return openPostgres(target, opts.name, opts.connections);
  return openSqlite(target, opts.migrate !== false);
}

/** Brings the schema up to date (both engines); safe when several processes start at once. */
export async function migrateDb(db: RootDb): Promise<void> {
  if (db.$dialect === "sqlite") {
    const h = handleOf(db);
    if (h) migrateSqlite(drizzleSync(h.client), { migrationsFolder: migrationsFolder("sqlite") });
    return;
  }
  const pool = pgPools.get(db);
  if (!pool) throw new Error("migrateDb: not a database openDb made");
  // Two processes starting together must not both create the tables: an advisory lock orders
  // them (the second finds nothing left to do).
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock(7250021)");
    await migratePg(drizzlePg(client), { migrationsFolder: migrationsFolder("postgres") });
  } finally {
    await client.query("SELECT pg_advisory_unlock(7250021)").catch(() => {});
    client.release();
  }
}

export async function closeDb(db: Db): Promise<void> {
  await closers.get(db)?.();
}

/**
 * HYPERION_MIGRATIONS, else the checkout's `drizzle/` (bin/hyperion.mjs sets HYPERION_ROOT so
 * the CLI finds it from any directory); PostgreSQL's are in its `pg/` folder.
 */
export function migrationsFolder(dialect: Dialect = "sqlite"): string {
  const env = currentEnv();
  const base = env.HYPERION_MIGRATIONS
    ? path.resolve(env.HYPERION_MIGRATIONS)
    : path.join(env.rootDir, "drizzle");
  return dialect === "postgres" ? path.join(base, "pg") : base;
}

// ---------------------------------------------------------------------------------------------
// SQLite

type Method = "run" | "all" | "values" | "get";

/**
 * Who may use a database file in this thread now: the transaction holding it, if any, and who
 * waits. Shared by every connection this thread opens to the file, since a second connection's
 * BEGIN IMMEDIATE would block the thread (busy timeout) while the first, which holds the write
 * lock across awaits, could never finish.
 */
type FileTurn = { holder: Ambient | null; waiters: (() => void)[] };
const fileTurns = new Map<string, FileTurn>();

type SqliteHandle = {
  client: Database.Database;
  turn: FileTurn;
  statements: Map<string, Database.Statement>;
};

/** The transaction open in this async flow, while it is open. */
type Ambient = { tx?: Tx; client?: pg.PoolClient; open: boolean };
const ambient = new AsyncLocalStorage<Ambient>();
const openAmbient = (): Ambient | undefined => {
  const a = ambient.getStore();
  return a?.open && a.tx ? a : undefined;
};
const dialectSqlite = new SQLiteAsyncDialect();

function openSqlite(file: string, migrate: boolean): RootDb {
  selectDialect("sqlite");
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const client = new Database(file);
  client.pragma("journal_mode = WAL");
  client.pragma("synchronous = NORMAL");
  client.pragma("busy_timeout = 5000");
  client.pragma("foreign_keys = ON");
  if (migrate) migrateSqlite(drizzleSync(client), { migrationsFolder: migrationsFolder("sqlite") });
  const key = fs.realpathSync(file);
  const turn = fileTurns.get(key) ?? { holder: null, waiters: [] };
  fileTurns.set(key, turn);
  const h: SqliteHandle = { client, turn, statements: new Map() };

  const exec = (sqlText: string, params: unknown[], method: Method) =>
    whenFree(h, () => execSqlite(h, sqlText, params, method));
  // Raw SQL finds the connection from the root or a transaction handle through their session.
  sqliteHandles.set(exec, h);
  const db = drizzleProxy(exec) as unknown as RootDb & { transaction: RootDb["transaction"] };

  const begin = db.transaction.bind(db);
  const transaction: RootDb["transaction"] = async (fn, config) => {
    const outer = openAmbient();
    if (outer?.tx) return outer.tx.transaction(fn);
    const amb: Ambient = { open: true };
    await whenFree(h, () => {
      h.turn.holder = amb;
    });
    try {
      return await ambient.run(amb, () =>
        begin(
          (tx) => {
            amb.tx = tx;
            return fn(tx);
          },
          { behavior: "immediate", ...config },
        ),
      );
    } finally {
      amb.open = false;
      h.turn.holder = null;
      for (const wake of h.turn.waiters.splice(0)) wake();
    }
  };
  Object.assign(db, { transaction, $dialect: "sqlite" as const });
  closers.set(db, async () => {
    if (client.open) client.close();
  });
  return db;
}

/**
 * Runs `run` once no other flow's transaction holds the connection (its own may). `run` is
 * synchronous and runs in the same tick as the last check, so nothing can take the connection
 * in between.
 */
async function whenFree<T>(h: SqliteHandle, run: () => T): Promise<T> {
  while (h.turn.holder && h.turn.holder !== ambient.getStore()) {
    await new Promise<void>((resolve) => h.turn.waiters.push(resolve));
  }
  return run();
}

function execSqlite(
  h: SqliteHandle,
  sqlText: string,
  params: unknown[],
  method: Method,
): { rows: unknown[] } & Partial<Database.RunResult> {
  let stmt = h.statements.get(sqlText);
  if (!stmt) {
    stmt = h.client.prepare(sqlText);
    if (h.statements.size > 500) h.statements.clear();
    h.statements.set(sqlText, stmt);
  }
  if (method === "run" || !stmt.reader) {
    const info = stmt.run(...params);
    return { rows: [], changes: info.changes, lastInsertRowid: info.lastInsertRowid };
  }
  stmt.raw(true);
  if (method === "get") return { rows: stmt.get(...params) as unknown[] };
  return { rows: stmt.all(...params) };
}

/** Raw SQL on SQLite, rows as objects (server/db/sql.ts); waits its turn like any statement. */
export async function sqliteRaw(
  db: DbLike,
  query: SQL,
): Promise<{ rows: Record<string, unknown>[]; changes: number }> {
  const h = handleOf(db);
  if (!h) throw new Error("not an SQLite database");
  const { sql: text, params } = dialectSqlite.sqlToQuery(query);
  return whenFree(h, () => {
    let stmt = h.statements.get(text);
    if (!stmt) {
      stmt = h.client.prepare(text);
      h.statements.set(text, stmt);
    }
    if (!stmt.reader) return { rows: [], changes: stmt.run(...params).changes };
    stmt.raw(false);
    return { rows: stmt.all(...params) as Record<string, unknown>[], changes: 0 };
  });
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

// int8 (bigint: ids, times in ms, counts) and numeric (sums) as numbers: every value Hyperion
// keeps fits in 2^53.
pg.types.setTypeParser(20, (v) => Number(v));
pg.types.setTypeParser(1700, (v) => Number(v));

const RETRYABLE = new Set(["40001", "40P01"]);

/**
 * The writers' lock. A transaction takes it first, so writers go one at a time, as SQLite's
 * BEGIN IMMEDIATE makes them: every service's read-then-write stays what it was written as, and
 * a body never runs twice. Claims alone run beside each other (concurrentTransaction).
 */
const WRITER_LOCK = 7250022;

/**
 * The pool, with the ambient transaction: a query made through the database inside a
 * transaction's flow goes to that transaction's connection, as it would on SQLite.
 */
class AmbientPool extends pg.Pool {
  // biome-ignore lint/suspicious/noExplicitAny: pg's query has many overloads; all are passed on
  override query(...args: any[]): any {
    const a = openAmbient();
    // biome-ignore lint/suspicious/noExplicitAny: as above
    if (a?.client) return (a.client.query as any)(...args);
    // biome-ignore lint/suspicious/noExplicitAny: as above
    return (super.query as any)(...args);
  }
}

function openPostgres(url: string, name?: string, connections = 8): RootDb {
  selectDialect("postgres");
  const pool = new AmbientPool({
    connectionString: url,
    max: connections,
    application_name: name ?? "hyperion",
    // A host cut off mid-transaction must not keep its row locks: the server ends the session.
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS,
    connectionTimeoutMillis: 10_000,
  });
  // An idle client's error (the server restarted, the network went) must not crash the
  // process: the pool drops that client and the next query opens another.
  pool.on("error", () => {});
  const db = drizzlePg(pool) as unknown as RootDb & { transaction: RootDb["transaction"] };
  const begin = db.transaction.bind(db) as unknown as (
    fn: (tx: Tx) => Promise<unknown>,
    config: unknown,
  ) => Promise<unknown>;
  const run = async <T>(fn: (tx: Tx) => Promise<T>, concurrent: boolean): Promise<T> => {
    const outer = openAmbient();
    if (outer?.tx) return outer.tx.transaction(fn);
    for (let attempt = 1; ; attempt++) {
      const amb: Ambient = { open: true };
      try {
        return (await ambient.run(amb, () =>
          begin(
            async (tx) => {
              amb.tx = tx;
              amb.client = (tx as unknown as { session: { client: pg.PoolClient } }).session.client;
              if (!concurrent)
                await amb.client.query(`SELECT pg_advisory_xact_lock(${WRITER_LOCK})`);
              return fn(tx);
            },
            { isolationLevel: concurrent ? "serializable" : "read committed" },
          ),
        )) as T;
      } catch (err) {
        const code =
          (err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code;
        if (!code || !RETRYABLE.has(code) || attempt >= 20) throw err;
        // Back off a little, more each time, so the two that conflicted do not meet again.
        await new Promise((r) => setTimeout(r, Math.min(200, 2 ** attempt) * Math.random()));
      } finally {
        amb.open = false;
      }
    }
  };
  const transaction = <T>(fn: (tx: Tx) => Promise<T>) => run(fn, false);
  const concurrentTransaction = <T>(fn: (tx: Tx) => Promise<T>) => run(fn, true);
  Object.assign(db, { $concurrentTransaction: concurrentTransaction });
  Object.assign(db, { transaction, $dialect: "postgres" as const });
  pgPools.set(db, pool);
  closers.set(db, () => pool.end());
  return db;
}

/**
 * A transaction that may run beside others on PostgreSQL: SERIALIZABLE, without the writers'
 * lock, run again from the start when it loses a conflict, so its body must be only SQL (the
 * queue's claims, which take rows FOR UPDATE SKIP LOCKED). On SQLite, a transaction.
 */
export function concurrentTransaction<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  type WithConcurrent = { $concurrentTransaction?: (f: (tx: Tx) => Promise<T>) => Promise<T> };
  const pgRun = (db as WithConcurrent).$concurrentTransaction;
  return pgRun ? pgRun(fn) : db.transaction(fn);
}

/** Raw SQL on PostgreSQL (server/db/sql.ts). */
export async function postgresRaw(
  db: DbLike,
  query: SQL,
): Promise<{ rows: Record<string, unknown>[]; changes: number }> {
  const res = (await (db as unknown as { execute: (q: SQL) => Promise<pg.QueryResult> }).execute(
    query,
  )) as pg.QueryResult;
  return { rows: res.rows as Record<string, unknown>[], changes: res.rowCount ?? 0 };
}

/** The pool behind a PostgreSQL database (LISTEN, the status page's connection facts). */
export function pgPoolOf(db: RootDb): pg.Pool | undefined {
  return pgPools.get(db);
}

function handleOf(db: DbLike): SqliteHandle | undefined {
  const client = (db as unknown as { session?: { client?: object } }).session?.client;
  return client ? sqliteHandles.get(client) : undefined;
}
