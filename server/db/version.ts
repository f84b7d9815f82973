import fs from "node:fs";
import path from "node:path";
import { sql } from "drizzle-orm";
import { isPostgresUrl, migrationsFolder, type RootDb } from "./client";
import { rawAll } from "./sql";

// Which schema a database is at, against the migrations this build ships, and the words for a
// database that cannot be used: every process names the cause before it touches a row.

export class SchemaVersionError extends Error {
  override name = "SchemaVersionError";
}

type Journal = { entries: { idx: number; when: number; tag: string }[] };

export function journal(db: Pick<RootDb, "$dialect">): Journal["entries"] {
  const file = path.join(migrationsFolder(db.$dialect), "meta", "_journal.json");
  return (JSON.parse(fs.readFileSync(file, "utf8")) as Journal).entries;
}

/** The migrations the database has applied (drizzle's table), by their time stamps. */
export async function appliedMigrations(db: RootDb): Promise<number[]> {
  return applied(db);
}

async function applied(db: RootDb): Promise<number[]> {
  const table =
    db.$dialect === "postgres" ? sql`drizzle.__drizzle_migrations` : sql`__drizzle_migrations`;
  try {
    const rows = await rawAll<{ created_at: number | string }>(
      db,
      sql`SELECT created_at FROM ${table} ORDER BY created_at`,
    );
    return rows.map((r) => Number(r.created_at));
  } catch (err) {
    // No table yet: a database nothing has migrated. Anything else (unreachable, refused) is
    // the caller's to name.
    const text = `${(err as Error).message} ${((err as { cause?: Error }).cause ?? {}).message ?? ""}`;
    const code = (err as { code?: string; cause?: { code?: string } }).cause?.code;
    if (code === "42P01" || code === "3F000" || /no such table/.test(text)) return [];
    throw err;
  }
}

/** What a database migrated by a newer Hyperion than this build is told, or null. */
export async function newerSchema(db: RootDb): Promise<string | null> {
  const last = journal(db).at(-1)?.when ?? 0;
  const newer = (await applied(db)).filter((w) => w > last);
  if (!newer.length) return null;
  return `the database was migrated by a newer Hyperion (${newer.length} migration${newer.length === 1 ? "" : "s"} this version does not have): upgrade this host to the version the others run, then start it again`;
}

/**
 * Refuses a database this build cannot work with: one migrated by a newer Hyperion (a host of
 * another version), or, unless this process migrates, one not yet migrated to this version.
 */
export async function assertSchemaCurrent(db: RootDb): Promise<void> {
  const newer = await newerSchema(db);
  if (newer) throw new SchemaVersionError(newer);
  const known = journal(db);
  const done = await applied(db);
  const missing = known.filter((m) => !done.includes(m.when));
  if (missing.length)
    throw new SchemaVersionError(
      `the database's schema is older than this Hyperion (${missing.length} of ${known.length} migrations not applied, the first ${missing[0]?.tag}): run 'hyperion start' or 'hyperion worker' on one host to migrate it, then start this one again`,
    );
}

/**
 * Watches, while a host runs, for another host of a newer version migrating the database
 * (a rolling upgrade): `onNewer` is called once with the message, and this host should stop —
 * its code would otherwise go on against a schema it does not know. A check that fails (the
 * database out of reach) is tried again at the next interval.
 */
export function watchSchema(
  db: RootDb,
  onNewer: (message: string) => void,
  intervalMs = 5000,
): { stop(): void } {
  let told = false;
  let checking = false;
  const timer = setInterval(() => {
    if (told || checking) return;
    checking = true;
    newerSchema(db)
      .then((message) => {
        if (message && !told) {
          told = true;
          clearInterval(timer);
          onNewer(message);
        }
      })
      .catch(() => undefined)
      .finally(() => {
        checking = false;
      });
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/** The URL with its password hidden, for messages and logs. */
export function shownTarget(target: string): string {
  if (!isPostgresUrl(target)) return target;
  try {
    const u = new URL(target);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(a malformed postgres URL)";
  }
}

/** Says what is wrong with a database that could not be opened, and what to do next. */
export function databaseProblem(target: string, err: Error): string {
  const shown = shownTarget(target);
  if (err instanceof SchemaVersionError) return `The database ${shown}: ${err.message}.`;
  if (!isPostgresUrl(target))
    return (
      `Cannot open the database ${shown}: ${err.message}. ` +
      "If it is not a Hyperion database, move it aside or set HYPERION_DATA to another folder."
    );
  const e = err as Error & { code?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code;
  const u = new URL(target);
  const where = `${u.hostname}:${u.port || 5432}`;
  const user = decodeURIComponent(u.username || "(none)");
  const dbName = u.pathname.replace(/^\//, "");
  const because: Record<string, string> = {
    ECONNREFUSED: `nothing answers at ${where}: is PostgreSQL running there, listening on that address and port?`,
    ENOTFOUND: `the host ${u.hostname} is not known: check the host name in HYPERION_DATABASE_URL`,
    EAI_AGAIN: `the host ${u.hostname} could not be looked up: check the name and the DNS`,
    EHOSTUNREACH: `no route to ${where}: check the network between this host and the database`,
    ETIMEDOUT: `no answer from ${where}: a firewall, or a host that is down`,
    "28P01": `password authentication failed for user "${user}": check the password in HYPERION_DATABASE_URL`,
    "28000": `the server refused user "${user}" (pg_hba.conf): allow this host, or use another user`,
    "3D000": `the database "${dbName}" does not exist: create it (createdb -O ${user} ${dbName}) and start again`,
    "42501": `user "${user}" may not create Hyperion's tables in "${dbName}": grant it CREATE on the database and on its schema public (GRANT CREATE ON SCHEMA public TO ${user}), or migrate as the owner`,
  };
  const timedOut = /timeout/i.test(e.message);
  const reason =
    (code && because[code]) ??
    (timedOut ? `no answer from ${where} in time: a firewall, or a host that is down` : e.message);
  return `Cannot use the database ${shown}: ${reason}.`;
}
