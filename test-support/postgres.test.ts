import fs from "node:fs";
import type { Client, Notification } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  connect,
  findPostgresBin,
  type PgCluster,
  POSTGRES_MISSING,
  startPostgres,
  testDatabaseUrl,
  testEngine,
} from "./postgres";

/**
 * The PostgreSQL test harness, on a cluster of this file's own (not the run's shared one), and
 * the server properties Hyperion's leases rely on (issue 21): claims by `FOR UPDATE SKIP LOCKED`,
 * notifications delivered at commit, and sessions ended when left idle in a transaction.
 */

const missing = findPostgresBin() === null;

/** Resolves with `what` or fails after `ms`: a bound on waiting for an event, never a pause. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

describe.skipIf(missing)(
  `the PostgreSQL test harness${missing ? ` (skipped: ${POSTGRES_MISSING})` : ""}`,
  () => {
    let pg: PgCluster;
    const clients: Client[] = [];

    async function client(url: string): Promise<Client> {
      const c = await connect(url);
      // A session the server ends (idle timeout, shutdown) must not take the test file down.
      c.on("error", () => {});
      clients.push(c);
      return c;
    }

    beforeAll(async () => {
      pg = await startPostgres();
    });

    afterAll(async () => {
      await Promise.allSettled(clients.map((c) => c.end()));
      await pg?.stop(); // stopped by the last test already, unless it failed or was left out
    });

    it("starts a cluster on 127.0.0.1 in a temp folder, with durability off", async () => {
      expect(fs.existsSync(`${pg.dataDir}/PG_VERSION`)).toBe(true);
      expect(fs.existsSync(pg.logPath)).toBe(true);
      expect(pg.url("x_1")).toBe(`postgres://postgres@127.0.0.1:${pg.port}/x_1`);
      const c = await client(pg.url("postgres"));
      const { rows } = await c.query<{ name: string; setting: string }>(
        `SELECT name, setting FROM pg_settings
        WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'max_connections',
                       'listen_addresses', 'port', 'server_encoding')
        ORDER BY name`,
      );
      expect(Object.fromEntries(rows.map((r) => [r.name, r.setting]))).toEqual({
        fsync: "off",
        full_page_writes: "off",
        listen_addresses: "127.0.0.1",
        max_connections: "300",
        port: String(pg.port),
        server_encoding: "UTF8",
        synchronous_commit: "off",
      });
    });

    it("gives fresh databases that are isolated from each other, several at once", async () => {
      const urls = await Promise.all(Array.from({ length: 6 }, () => pg.createDatabase()));
      expect(new Set(urls).size).toBe(6);
      const [a, b] = await Promise.all([client(urls[0] ?? ""), client(urls[1] ?? "")]);
      await a.query("CREATE TABLE t (v text)");
      await a.query("INSERT INTO t VALUES ('in a')");
      // b is empty: no table t, until it makes its own.
      expect((await b.query("SELECT to_regclass('t') AS t")).rows).toEqual([{ t: null }]);
      await b.query("CREATE TABLE t (v text)");
      await b.query("INSERT INTO t VALUES ('in b')");
      expect((await a.query("SELECT v FROM t")).rows).toEqual([{ v: "in a" }]);
      expect((await b.query("SELECT v FROM t")).rows).toEqual([{ v: "in b" }]);

      // A database of a chosen name, and dropping it while a session is open in it.
      const namedUrl = await pg.createDatabase("harness_named");
      expect(namedUrl).toBe(pg.url("harness_named"));
      const inNamed = await client(namedUrl);
      await pg.dropDatabase("harness_named");
      await expect(inNamed.query("SELECT 1")).rejects.toThrow();
      const admin = await client(pg.url("postgres"));
      const { rows } = await admin.query(
        "SELECT 1 FROM pg_database WHERE datname = 'harness_named'",
      );
      expect(rows).toEqual([]);
      await pg.dropDatabase("harness_named"); // gone already: fine
      await expect(pg.createDatabase('bad"name')).rejects.toThrow(/database name/);
    });

    it("lets 8 concurrent sessions claim 200 rows with FOR UPDATE SKIP LOCKED, each row exactly once", async () => {
      const url = await pg.createDatabase();
      const setup = await client(url);
      await setup.query(
        `CREATE TABLE jobs (id serial PRIMARY KEY, owner int, claims int NOT NULL DEFAULT 0);
       CREATE TABLE taken (job int NOT NULL, owner int NOT NULL);
       INSERT INTO jobs (id) SELECT generate_series(1, 200);`,
      );
      const workers = await Promise.all(Array.from({ length: 8 }, () => client(url)));

      // Each worker claims one row per transaction until none is left unclaimed and unlocked.
      const claim = async (c: Client, owner: number): Promise<number[]> => {
        const got: number[] = [];
        for (;;) {
          await c.query("BEGIN");
          const { rows } = await c.query<{ id: number }>(
            `UPDATE jobs SET owner = $1, claims = claims + 1
            WHERE id = (SELECT id FROM jobs WHERE owner IS NULL
                         ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING *`,
            [owner],
          );
          const row = rows[0];
          if (row) await c.query("INSERT INTO taken (job, owner) VALUES ($1, $2)", [row.id, owner]);
          await c.query("COMMIT");
          if (!row) return got;
          expect(rows).toHaveLength(1);
          got.push(row.id);
        }
      };
      const byWorker = await Promise.all(workers.map((c, i) => claim(c, i + 1)));

      const all = byWorker.flat().sort((x, y) => x - y);
      expect(all).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      const jobs = await setup.query("SELECT count(*)::int AS n FROM jobs WHERE claims <> 1");
      expect(jobs.rows).toEqual([{ n: 0 }]);
      const taken = await setup.query(
        "SELECT count(*)::int AS n, count(DISTINCT job)::int AS jobs FROM taken",
      );
      expect(taken.rows).toEqual([{ n: 200, jobs: 200 }]);
      // Each row's owner is the worker that says it took it.
      const owners = await setup.query<{ id: number; owner: number }>(
        "SELECT id, owner FROM jobs ORDER BY id",
      );
      const said = new Map(byWorker.flatMap((ids, i) => ids.map((id) => [id, i + 1] as const)));
      for (const { id, owner } of owners.rows) expect(owner).toBe(said.get(id));
    });

    it("delivers a NOTIFY sent inside a transaction only at COMMIT", async () => {
      const url = await pg.createDatabase();
      const [listener, inTx, outside] = await Promise.all([client(url), client(url), client(url)]);
      const heard: string[] = [];
      const waiters: { payload: string; resolve: () => void }[] = [];
      listener.on("notification", (n: Notification) => {
        heard.push(n.payload ?? "");
        for (const w of waiters.filter((w) => w.payload === n.payload)) w.resolve();
      });
      const hear = (payload: string) =>
        within(
          10_000,
          `the notification '${payload}'`,
          new Promise<void>((resolve) => {
            if (heard.includes(payload)) resolve();
            else waiters.push({ payload, resolve });
          }),
        );
      await listener.query("LISTEN leases");

      await inTx.query("BEGIN");
      await inTx.query("SELECT pg_notify('leases', 'in the transaction')");
      // A notification sent and committed after it, on the same channel: when it has arrived, the
      // one inside the open transaction has not, though it was sent first.
      await outside.query("SELECT pg_notify('leases', 'committed')");
      await hear("committed");
      expect(heard).toEqual(["committed"]);

      await inTx.query("COMMIT");
      await hear("in the transaction");
      expect(heard).toEqual(["committed", "in the transaction"]);

      // And a rolled-back one never arrives: a later committed one comes alone.
      await inTx.query("BEGIN");
      await inTx.query("SELECT pg_notify('leases', 'rolled back')");
      await inTx.query("ROLLBACK");
      await outside.query("SELECT pg_notify('leases', 'after')");
      await hear("after");
      expect(heard).toEqual(["committed", "in the transaction", "after"]);
    });

    it("ends a session left idle in a transaction (idle_in_transaction_session_timeout)", async () => {
      const url = await pg.createDatabase();
      const admin = await client(url);
      const idle = await connect(url);
      clients.push(idle);
      // Every error it reports (the server's FATAL, then the closed socket); the first one counts.
      const errors: Error[] = [];
      const ended = new Promise<Error>((resolve) =>
        idle.on("error", (e) => {
          errors.push(e);
          resolve(errors[0] ?? e);
        }),
      );

      await idle.query("SET idle_in_transaction_session_timeout = '200ms'");
      const { rows } = await idle.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
      const pid = rows[0]?.pid;
      expect(pid).toBeTypeOf("number");
      await idle.query("BEGIN");
      await idle.query("SELECT 1");

      // The server ends the session: the client hears it without sending anything.
      const err = await within(20_000, "the idle session's end", ended);
      expect(err.message).toMatch(/idle-in-transaction timeout/);
      await expect(idle.query("SELECT 1")).rejects.toThrow();

      // And its backend is gone from the server (polled, up to a generous deadline).
      let polling = true;
      const gone = async () => {
        while (polling) {
          const r = await admin.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [pid]);
          if (r.rowCount === 0) return;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      };
      try {
        await within(20_000, "the backend leaving pg_stat_activity", gone());
      } finally {
        polling = false;
      }
    });

    it("testDatabaseUrl: a fresh database per call on the run's cluster, none in SQLite mode", async () => {
      if (testEngine() === "sqlite") {
        expect(await testDatabaseUrl()).toBeUndefined();
        return;
      }
      // npm run test:pg: the cluster test-support/postgres-setup.ts started for the run.
      const [one, two] = await Promise.all([testDatabaseUrl(), testDatabaseUrl()]);
      expect(one).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/t\d+_[0-9a-f]{12}$/);
      expect(two).not.toBe(one);
      const c = await client(one ?? "");
      const { rows } = await c.query(
        "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'",
      );
      expect(rows).toEqual([{ n: 0 }]);
    });

    it("stops: the server is gone, the folder removed, and a second stop is harmless", async () => {
      const url = await pg.createDatabase();
      const c = await client(url);
      const closed = new Promise<void>((resolve) => c.once("end", resolve));
      await pg.stop();
      await within(20_000, "the session's end at shutdown", closed);
      expect(fs.existsSync(pg.dir)).toBe(false);
      await pg.stop();
      pg.stopSync();
      await expect(connect(url)).rejects.toThrow(/ECONNREFUSED/);
    });
  },
);
