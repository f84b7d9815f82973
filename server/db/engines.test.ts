import fs from "node:fs";
import path from "node:path";
import { eq, sql } from "drizzle-orm";
import { getTableConfig as getPgTableConfig, type PgTable } from "drizzle-orm/pg-core";
import { getTableConfig, type SQLiteTable } from "drizzle-orm/sqlite-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "@/test-support/fixtures";
import { connect, findPostgresBin, type PgCluster, startPostgres } from "@/test-support/postgres";
import { bootstrap, DatabaseError } from "../bootstrap";
import { readEnv } from "../env.mjs";
import { createRequests } from "../requests/service";
import { closeDb, type Db, dbFile, migrateDb, openDb, type RootDb } from "./client";
import { copyToPostgres } from "./copy";
import { events, requests, selectDialect, tableNames } from "./schema";
import { pgTables } from "./schema/pg";
import * as sqlite from "./schema/tables";
import { rawRun, rawValue } from "./sql";
import { assertSchemaCurrent, databaseProblem } from "./version";

// The store's two engines side by side, on a PostgreSQL cluster of this file's own: the
// ambient transaction, the copy from SQLite, and the causes a database that cannot be used
// is refused with.

const pgBin = findPostgresBin();
let cluster: PgCluster;

beforeAll(async () => {
  if (pgBin) cluster = await startPostgres();
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
  selectDialect("sqlite");
});

async function withDb(engine: "sqlite" | "postgres", fn: (db: RootDb) => Promise<void>) {
  const target =
    engine === "postgres" ? await cluster.createDatabase() : dbFile(tempDir("hyperion-engine-"));
  const db = openDb(target);
  try {
    await migrateDb(db);
    await fn(db);
  } finally {
    await closeDb(db);
  }
}

const countEvents = async (db: RootDb) =>
  Number(await rawValue(db, sql`SELECT count(*) AS n FROM events`));
const note = (db: Db, type: string) =>
  db.insert(events).values({ topic: "request", type, payload: {}, createdAt: 1 });

describe("the schema", () => {
  it("derives a PostgreSQL table for every SQLite table, with the same columns, and drizzle-kit sees them all", async () => {
    const tables = pgTables();
    expect(Object.keys(tables).sort()).toEqual([...tableNames].sort());
    const kit = await import("./schema/pg-kit");
    expect(Object.keys(kit).sort()).toEqual([...tableNames].sort());
    for (const name of tableNames) {
      const lite = getTableConfig(
        (sqlite as unknown as Record<string, SQLiteTable>)[name] as SQLiteTable,
      );
      const pg = getPgTableConfig(tables[name] as PgTable);
      expect(pg.name).toBe(lite.name);
      expect(pg.columns.map((c) => [c.name, c.notNull])).toEqual(
        lite.columns.map((c) => [c.name, c.notNull]),
      );
    }
  });
});

describe.skipIf(!pgBin)("the store on both engines", () => {
  for (const engine of ["sqlite", "postgres"] as const) {
    describe(engine, () => {
      it("a transaction is ambient to its flow: a write through the database joins it, and a rollback undoes both", async () => {
        await withDb(engine, async (db) => {
          await expect(
            db.transaction(async (tx) => {
              await note(tx, "through the handle");
              await note(db, "through the database");
              throw new Error("undo");
            }),
          ).rejects.toThrow("undo");
          expect(await countEvents(db)).toBe(0);
          await db.transaction(async (tx) => {
            await note(tx, "a");
            // A transaction started through the database inside the flow is a savepoint.
            await db.transaction(async () => note(db, "b"));
          });
          expect(await countEvents(db)).toBe(2);
        });
      });

      it("another flow's write is not taken into an open transaction that rolls back", async () => {
        await withDb(engine, async (db) => {
          let release!: () => void;
          const held = new Promise<void>((r) => {
            release = r;
          });
          let entered!: () => void;
          const inside = new Promise<void>((r) => {
            entered = r;
          });
          const tx = db
            .transaction(async (t) => {
              await note(t, "inside");
              entered();
              await held;
              throw new Error("undo");
            })
            .catch(() => "rolled back");
          await inside;
          // Started while the transaction is open, by someone else: it must survive the rollback.
          const outside = note(db, "outside");
          release();
          expect(await tx).toBe("rolled back");
          await outside;
          const types = (await db.select({ type: events.type }).from(events)).map((e) => e.type);
          expect(types).toEqual(["outside"]);
        });
      });
    });
  }

  it("copies an SQLite install into an empty PostgreSQL database, checks it, and goes on numbering after it", async () => {
    // An SQLite install, whatever engine the run's other tests use.
    const dir = tempDir();
    const report = await bootstrap(
      readEnv({ HYPERION_DATA: dir, HYPERION_ADMIN_PASSWORD: "admin-password-1" }),
    );
    const world = { dir, db: report.db, config: report.config };
    try {
      const requester = { id: 1, email: report.admin?.email ?? "", role: "admin" as const };
      await createRequests(world.db, {
        input: [
          { title: "One", description: "First of two", repo: "demo" },
          { title: "Two", description: "Second, with <html> & 'quotes'", repo: "demo" },
        ],
        requester,
        config: world.config,
        source: "cli",
      });
      const url = await cluster.createDatabase();
      const seen: string[] = [];
      const copied = await copyToPostgres(dbFile(world.dir), url, (t) => seen.push(t.table));
      expect(copied.tables.find((t) => t.table === "requests")?.rows).toBe(2);
      expect(seen).toContain("events");

      // A second copy into the same database is refused: it is not empty.
      await expect(copyToPostgres(dbFile(world.dir), url)).rejects.toThrow(/already has rows/);

      const pgDb = openDb(url);
      try {
        const [two] = await pgDb.select().from(requests).where(eq(requests.id, 2));
        expect(two?.description).toBe("Second, with <html> & 'quotes'");
        expect(two?.areas).toEqual([]);
        const [made] = await createRequests(pgDb, {
          input: { title: "Three", description: "After the copy", repo: "demo" },
          requester,
          config: world.config,
          source: "cli",
        });
        expect(made?.id).toBe(3);
      } finally {
        await closeDb(pgDb);
        selectDialect("sqlite");
      }
    } finally {
      await closeDb(report.db);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names why a PostgreSQL database cannot be used, and the process that cannot go on stops", async () => {
    const nothing = `postgres://postgres@127.0.0.1:${cluster.port + 1}/hyperion`;
    const refused = async (url: string) => {
      const env = readEnv({ HYPERION_DATA: tempDir(), HYPERION_DATABASE_URL: url });
      const err = await bootstrap(env).then(
        () => null,
        (e: Error) => e,
      );
      selectDialect("sqlite");
      expect(err).toBeInstanceOf(DatabaseError);
      return (err as Error).message;
    };
    expect(await refused(nothing)).toMatch(/nothing answers at 127\.0\.0\.1:\d+/);
    expect(await refused(cluster.url("no_such_db"))).toMatch(
      /database "no_such_db" does not exist: create it/,
    );

    // A user with a password, checked by the server (the cluster trusts everyone else).
    const admin = await connect(cluster.url("postgres"));
    try {
      await admin.query("CREATE ROLE hy LOGIN PASSWORD 'right-password'");
      await admin.query("CREATE DATABASE hy_db OWNER hy");
      const hba = path.join(cluster.dataDir, "pg_hba.conf");
      fs.writeFileSync(
        hba,
        `host all hy 127.0.0.1/32 scram-sha-256\n${fs.readFileSync(hba, "utf8")}`,
      );
      await admin.query("SELECT pg_reload_conf()");
    } finally {
      await admin.end();
    }
    const wrong = `postgres://hy:wrong-password@127.0.0.1:${cluster.port}/hy_db`;
    const message = await refused(wrong);
    expect(message).toMatch(/password authentication failed for user "hy"/);
    expect(message).not.toContain("wrong-password");
    expect(message).toContain("postgres://hy:***@");
  });

  it("refuses a database migrated by a newer Hyperion, and one older than this build when it may not migrate", async () => {
    const url = await cluster.createDatabase();
    const db = openDb(url);
    try {
      await migrateDb(db);
      await assertSchemaCurrent(db);
      await rawRun(
        db,
        sql`INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES ('future', ${Date.now() + 10 ** 10})`,
      );
      await expect(assertSchemaCurrent(db)).rejects.toThrow(/migrated by a newer Hyperion/);
      await rawRun(db, sql`DELETE FROM drizzle.__drizzle_migrations`);
      const err = await assertSchemaCurrent(db).catch((e: Error) => e);
      expect(databaseProblem(url, err as Error)).toMatch(
        /schema is older than this Hyperion .*run 'hyperion start' or 'hyperion worker'/,
      );
    } finally {
      await closeDb(db);
      selectDialect("sqlite");
    }
  });
});
