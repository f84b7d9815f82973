import { type SQL, type SQLWrapper, sql } from "drizzle-orm";
import { type DbLike, postgresRaw, sqliteRaw } from "./client";
import { currentDialect } from "./schema";

// Raw SQL, for the few statements the query builder cannot say (the queue's claims, counts over
// joins). Written once in the SQL both engines speak; where they differ, the helpers below give
// each engine's form.

const raw = (db: DbLike, query: SQL) =>
  currentDialect() === "postgres" ? postgresRaw(db, query) : sqliteRaw(db, query);

/**
 * The row an INSERT … RETURNING (or an UPDATE that must match) wrote: a missing one is a bug
 * or a lost race, never a value to go on with.
 */
export function stored<T>(rows: T[], what = "row"): T {
  const row = rows[0];
  if (row === undefined) throw new Error(`the ${what} was not written`);
  return row;
}

/**
 * SQL that differs between the engines, chosen when the query is built (not when the module
 * loads: a process picks its engine when it opens its database).
 */
function perEngine(forms: { sqlite: () => SQL; postgres: () => SQL }): SQL {
  const lazy: SQLWrapper = {
    getSQL: () => (currentDialect() === "postgres" ? forms.postgres() : forms.sqlite()),
  };
  return sql`${lazy}`;
}

/** A value inside a JSON text column, as text: `jsonText(events.payload, "error", "kind")`. */
export function jsonText(column: SQLWrapper, ...path: string[]): SQL {
  for (const key of path)
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`jsonText: bad key ${key}`);
  return perEngine({
    sqlite: () => sql`json_extract(${column}, ${sql.raw(`'$.${path.join(".")}'`)})`,
    postgres: () => sql`(${column}::jsonb #>> ${sql.raw(`'{${path.join(",")}}'`)})`,
  });
}

/** A text column compared and ordered without case (ASCII on SQLite, as its NOCASE does). */
export function noCase(column: SQLWrapper): SQL {
  return perEngine({
    sqlite: () => sql`${column} COLLATE NOCASE`,
    postgres: () => sql`lower(${column})`,
  });
}

/** `column LIKE pattern` without case, `\` escaping (SQLite's LIKE is; PostgreSQL's ILIKE). */
export function likeNoCase(column: SQLWrapper, pattern: string): SQL {
  return perEngine({
    sqlite: () => sql`${column} LIKE ${pattern} ESCAPE '\\'`,
    postgres: () => sql`${column} ILIKE ${pattern} ESCAPE '\\'`,
  });
}

/** A write refused because it would repeat a unique key, on either engine (drizzle wraps it). */
export function isUniqueViolation(err: unknown): boolean {
  const codes = new Set(["SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY", "23505"]);
  for (let e = err as { code?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e)
    if (e.code && codes.has(e.code)) return true;
  return false;
}

/** Errors of the network or of a server going away, by errno and by SQLSTATE (class 08, 57P0x). */
const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "57P01",
  "57P02",
  "57P03",
  "53300",
  "25P03",
]);

/**
 * The database could not be reached, or dropped the session (a host cut off from the network,
 * the server restarting, a session ended by idle_in_transaction_session_timeout): worth waiting
 * out and trying again, unlike a bug. On either engine (drizzle wraps the driver's error).
 */
export function databaseUnreachable(err: unknown): boolean {
  for (
    let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined;
    e;
    e = e.cause as typeof e
  ) {
    const code = typeof e.code === "string" ? e.code : "";
    if (UNREACHABLE_CODES.has(code) || code.startsWith("08")) return true;
    if (
      typeof e.message === "string" &&
      /Connection terminated|timeout exceeded when trying to connect|connection error|Client was closed/i.test(
        e.message,
      )
    )
      return true;
  }
  return false;
}

/** Every row, as objects keyed by the selected names. */
export async function rawAll<T = Record<string, unknown>>(db: DbLike, query: SQL): Promise<T[]> {
  return (await raw(db, query)).rows as T[];
}

/** The first row, or undefined. */
export async function rawGet<T = Record<string, unknown>>(
  db: DbLike,
  query: SQL,
): Promise<T | undefined> {
  return (await raw(db, query)).rows[0] as T | undefined;
}

/** The first column of the first row (a count, an id), or undefined. */
export async function rawValue<T>(db: DbLike, query: SQL): Promise<T | undefined> {
  const row = (await raw(db, query)).rows[0];
  return row === undefined ? undefined : (Object.values(row)[0] as T);
}

/** A statement that writes; how many rows it changed. */
export async function rawRun(db: DbLike, query: SQL): Promise<number> {
  return (await raw(db, query)).changes;
}
