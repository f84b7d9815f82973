import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { Client } from "pg";

/**
 * Throwaway PostgreSQL clusters for tests: Debian's server binaries (package `postgresql`,
 * which bin/system-deps.sh installs), `initdb` into a temp folder as an unprivileged user, a
 * free port on 127.0.0.1, durability off. `startPostgres` gives a cluster of a test's own;
 * `testDatabaseUrl` gives a fresh database on the one cluster that test-support/postgres-setup.ts
 * starts for a whole `npm run test:pg` run (README, "Test it").
 *
 * `pg` is imported only when a cluster is asked something, so that importing this module from a
 * test costs nothing in the default SQLite mode.
 */

declare module "vitest" {
  export interface ProvidedContext {
    /** postgres://postgres@127.0.0.1:PORT of the run's shared cluster (postgres mode only). */
    hyperionPostgres?: string;
  }
}

const run = promisify(execFile);

/** Where Debian puts each major version's server binaries. */
const PG_LIB = "/usr/lib/postgresql";
/** The system user initdb and the server run as when the tests run as root. */
const PG_USER = "postgres";
/** How long pg_ctl waits for the server to start or stop, in seconds. */
const PG_CTL_WAIT_S = "60";

/** The server binaries are not installed. */
export class PostgresMissingError extends Error {
  name = "PostgresMissingError";
}

export type PostgresBin = { version: number; dir: string; initdb: string; pgCtl: string };

/** The newest installed server binaries under /usr/lib/postgresql/<version>/bin, or null. */
export function findPostgresBin(root = PG_LIB): PostgresBin | null {
  let versions: number[];
  try {
    versions = fs
      .readdirSync(root)
      .filter((v) => /^\d+$/.test(v))
      .map(Number)
      .sort((a, b) => b - a);
  } catch {
    return null;
  }
  for (const version of versions) {
    const dir = path.join(root, String(version), "bin");
    const initdb = path.join(dir, "initdb");
    const pgCtl = path.join(dir, "pg_ctl");
    if (isExecutable(initdb) && isExecutable(pgCtl)) return { version, dir, initdb, pgCtl };
  }
  return null;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Why no cluster can be started here, for a skip message or an error. */
export const POSTGRES_MISSING = `PostgreSQL's server binaries (initdb, pg_ctl) are not under ${PG_LIB}/<version>/bin: install Debian's postgresql package (bash bin/system-deps.sh, or apt-get install -y postgresql)`;

export type PgCluster = {
  /** The temp folder that holds everything: the data folder, the log, the server's socket. */
  dir: string;
  dataDir: string;
  logPath: string;
  port: number;
  version: number;
  /** postgres://postgres@127.0.0.1:PORT (or the `listen` address), without a database. */
  baseUrl: string;
  /** The URL of database `dbName` on this cluster. */
  url(dbName: string): string;
  /** The folder of the server's unix socket (the cluster's folder). */
  socketDir: string;
  /**
   * The URL of database `dbName` through the server's unix socket
   * (postgres://postgres@%2Fsocket%2Fdir:PORT/db): a socket is a file, so this reaches a server
   * that listens in another network namespace, where its TCP address cannot be reached.
   */
  socketUrl(dbName: string): string;
  /** Creates a fresh, empty database (a unique name unless one is given); its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Drops a database, ending its sessions; a missing one is fine. */
  dropDatabase(name: string): Promise<void>;
  /** Stops the server (fast shutdown) and removes the folder; a second call does nothing. */
  stop(): Promise<void>;
  /** The same, synchronously, for exit and signal handlers (immediate shutdown). */
  stopSync(): void;
  /**
   * Takes the server away as a crash does (immediate shutdown: every session is cut, nothing
   * answers), keeping its folder, until `resume()`.
   */
  halt(): Promise<void>;
  /** Starts the halted server again on the same port, in the same namespace. */
  resume(): Promise<void>;
};

export type StartOptions = {
  /** The folder the cluster's temp folder is made in: os.tmpdir() unless given. */
  parent?: string;
  prefix?: string;
  /** The address the server listens on: 127.0.0.1 unless given (e.g. a host's, with `netns`). */
  listen?: string;
  /**
   * Clients allowed in besides this machine's (pg_hba.conf, trust): an IPv4 subnet such as
   * 10.77.3.0/24, the hosts' subnet of test-support/hosts.ts.
   */
  trustFrom?: string;
  /** The port: a free one on 127.0.0.1 unless given (a namespace of its own has all free). */
  port?: number;
  /**
   * A network namespace (`ip netns`) to run the server in: initdb and pg_ctl run through
   * `ip netns exec`, so the server binds `listen` there. The tests then reach it through its
   * unix socket (`socketUrl`), and so do `createDatabase` and `dropDatabase`.
   */
  netns?: string;
};

/** A database name Hyperion's tests use: lower case, digits and `_`, at most 63 bytes. */
const DB_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

function checkDbName(name: string): string {
  if (!DB_NAME.test(name))
    throw new Error(
      `database name ${JSON.stringify(name)}: use lower-case letters, digits and _ (at most 63, not starting with a digit)`,
    );
  return name;
}

/** A name no other worker picks: the process and a random suffix. */
function freshDbName(): string {
  return `t${process.pid}_${randomBytes(6).toString("hex")}`;
}

/** A port on 127.0.0.1 that was free a moment ago (bound with port 0, then closed). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address
          ? resolve(address.port)
          : reject(new Error("no port from the kernel")),
      );
    });
  });
}

const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0;

/** The argument vector that runs `file args` as the cluster's owner: postgres when we are root. */
function asOwner(file: string, args: string[]): [string, string[]] {
  if (!isRoot()) return [file, args];
  const runuser = ["/usr/sbin/runuser", "/sbin/runuser"].find(isExecutable) ?? "runuser";
  return [runuser, ["-u", PG_USER, "--", file, ...args]];
}

/** The postgres user's uid and gid, or a message saying it is missing. */
function postgresUser(): { uid: number; gid: number } {
  try {
    const id = (flag: string) =>
      Number(execFileSync("id", [flag, PG_USER], { encoding: "utf8", stdio: "pipe" }).trim());
    return { uid: id("-u"), gid: id("-g") };
  } catch {
    throw new PostgresMissingError(
      `running as root, the test cluster needs the unprivileged '${PG_USER}' system user (initdb refuses root), and there is none: install Debian's postgresql package, which creates it, or run the tests as another user`,
    );
  }
}

/** The argument vector that runs `file args` in network namespace `netns` (if any). */
function inNetns(netns: string | undefined, [file, args]: [string, string[]]): [string, string[]] {
  if (!netns) return [file, args];
  const ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].find(isExecutable) ?? "ip";
  return [ip, ["netns", "exec", netns, file, ...args]];
}

async function owned(
  file: string,
  args: string[],
  cwd: string,
  netns?: string,
): Promise<{ stdout: string; stderr: string }> {
  const [cmd, argv] = inNetns(netns, asOwner(file, args));
  try {
    return await run(cmd, argv, { cwd, encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(
      `${path.basename(file)} ${args.join(" ")} failed: ${(e.stderr || e.stdout || e.message).trim()}`,
    );
  }
}

/**
 * The server's settings, written into postgresql.conf rather than passed through `pg_ctl -o`
 * (pg_ctl hands -o to /bin/sh, which would split a folder with a space): the socket in the
 * cluster's own folder, TCP on 127.0.0.1 only, and no durability, which a throwaway cluster
 * does not need.
 */
function settings(dir: string, port: number, listen = "127.0.0.1"): string {
  const quoted = (s: string) => `'${s.replaceAll("'", "''")}'`;
  return [
    "",
    "# test-support/postgres.ts",
    `port = ${port}`,
    `listen_addresses = ${quoted(listen)}`,
    `unix_socket_directories = ${quoted(dir)}`,
    "fsync = off",
    "synchronous_commit = off",
    "full_page_writes = off",
    "max_connections = 300",
    "",
  ].join("\n");
}

/**
 * Starts a throwaway cluster: initdb (trust, UTF8, no locale, no sync) into a new temp folder
 * owned by the user the server runs as, then `pg_ctl -w start` on a free port, which returns
 * once the server accepts connections. Stop it with `stop()`.
 */
export async function startPostgres(opts: StartOptions = {}): Promise<PgCluster> {
  const bin = findPostgresBin();
  if (!bin) throw new PostgresMissingError(POSTGRES_MISSING);
  const owner = isRoot() ? postgresUser() : undefined;

  const dir = fs.mkdtempSync(path.join(opts.parent ?? os.tmpdir(), opts.prefix ?? "hyperion-pg-"));
  const dataDir = path.join(dir, "data");
  const logPath = path.join(dir, "postgres.log");
  const confPath = path.join(dataDir, "postgresql.conf");
  let started = false;
  try {
    if (owner) fs.chownSync(dir, owner.uid, owner.gid);
    await owned(
      bin.initdb,
      ["--no-sync", "-D", dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale"],
      dir,
    );
    const initialConf = fs.readFileSync(confPath, "utf8");
    if (opts.trustFrom !== undefined) {
      if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(opts.trustFrom))
        throw new Error(
          `trustFrom must be an IPv4 subnet like 10.77.3.0/24 (got ${opts.trustFrom})`,
        );
      fs.appendFileSync(
        path.join(dataDir, "pg_hba.conf"),
        `\n# test-support/postgres.ts\nhost all all ${opts.trustFrom} trust\n`,
      );
    }

    // The port was free when picked; if the server loses it to another process before it binds,
    // pick again.
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = opts.port ?? (await freePort());
      fs.writeFileSync(confPath, initialConf + settings(dir, port, opts.listen));
      try {
        await owned(
          bin.pgCtl,
          ["-D", dataDir, "-l", logPath, "-w", "-t", PG_CTL_WAIT_S, "start"],
          dir,
          opts.netns,
        );
        started = true;
        break;
      } catch (err) {
        const log = readLog(logPath);
        if (
          opts.port === undefined &&
          attempt < 3 &&
          /could not bind|Address already in use/i.test(log)
        )
          continue;
        throw new Error(`${(err as Error).message}\n--- ${logPath} ---\n${log}`);
      }
    }
    return cluster({
      bin,
      dir,
      dataDir,
      logPath,
      port,
      listen: opts.listen ?? "127.0.0.1",
      netns: opts.netns,
    });
  } catch (err) {
    if (started) stopServer(bin, dataDir, "immediate");
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

function readLog(logPath: string): string {
  try {
    return fs.readFileSync(logPath, "utf8").slice(-4000);
  } catch {
    return "(no log)";
  }
}

/** Stops the server synchronously; false when pg_ctl failed (e.g. it was not running). */
function stopServer(bin: PostgresBin, dataDir: string, mode: "fast" | "immediate"): boolean {
  const [cmd, argv] = asOwner(bin.pgCtl, [
    "-D",
    dataDir,
    "-m",
    mode,
    "-w",
    "-t",
    PG_CTL_WAIT_S,
    "stop",
  ]);
  try {
    execFileSync(cmd, argv, { cwd: path.dirname(dataDir), stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}

function cluster(c: {
  bin: PostgresBin;
  dir: string;
  dataDir: string;
  logPath: string;
  port: number;
  listen: string;
  /** Its namespace: administration (create, drop) goes through the socket then. */
  netns: string | undefined;
}): PgCluster {
  const baseUrl = `postgres://postgres@${c.listen}:${c.port}`;
  const url = (dbName: string) => `${baseUrl}/${encodeURIComponent(dbName)}`;
  const socketUrl = (dbName: string) =>
    `postgres://postgres@${encodeURIComponent(c.dir)}:${c.port}/${encodeURIComponent(dbName)}`;
  const admin = c.netns !== undefined ? socketUrl : url;
  let stopped = false;

  const finish = () => {
    stopped = true;
    fs.rmSync(c.dir, { recursive: true, force: true });
  };

  return {
    dir: c.dir,
    dataDir: c.dataDir,
    logPath: c.logPath,
    port: c.port,
    version: c.bin.version,
    baseUrl,
    url,
    socketDir: c.dir,
    socketUrl,
    async createDatabase(name) {
      const db = checkDbName(name ?? freshDbName());
      await adminQuery(admin("postgres"), `CREATE DATABASE "${db}"`);
      return url(db);
    },
    async dropDatabase(name) {
      await adminQuery(
        admin("postgres"),
        `DROP DATABASE IF EXISTS "${checkDbName(name)}" WITH (FORCE)`,
      );
    },
    async stop() {
      if (stopped) return;
      const [cmd, argv] = asOwner(c.bin.pgCtl, [
        "-D",
        c.dataDir,
        "-m",
        "fast",
        "-w",
        "-t",
        PG_CTL_WAIT_S,
        "stop",
      ]);
      try {
        await run(cmd, argv, { cwd: c.dir, encoding: "utf8" });
      } catch (err) {
        // Already down (killed, or stopped by hand): nothing left to stop but the folder.
        const e = err as { stderr?: string };
        if (!/not running|does not exist|Is server running|No such process/i.test(e.stderr ?? "")) {
          throw new Error(`pg_ctl stop failed: ${(e.stderr ?? String(err)).trim()}`);
        }
      }
      finish();
    },
    stopSync() {
      if (stopped) return;
      stopServer(c.bin, c.dataDir, "immediate");
      finish();
    },
    async halt() {
      if (!stopServer(c.bin, c.dataDir, "immediate"))
        throw new Error(`pg_ctl stop failed:\n${readLog(c.logPath)}`);
    },
    async resume() {
      try {
        await owned(
          c.bin.pgCtl,
          ["-D", c.dataDir, "-l", c.logPath, "-w", "-t", PG_CTL_WAIT_S, "start"],
          c.dir,
          c.netns,
        );
      } catch (err) {
        throw new Error(`${(err as Error).message}\n--- ${c.logPath} ---\n${readLog(c.logPath)}`);
      }
    },
  };
}

/** Connects to `url`, runs one statement, disconnects. */
async function adminQuery(url: string, sql: string): Promise<void> {
  const client = await connect(url);
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A connected `pg` client (pg imported here, on first use). */
export async function connect(url: string): Promise<Client> {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

/**
 * The engine this test run is on: `postgres` under `npm run test:pg` (HYPERION_TEST_ENGINE),
 * else `sqlite`.
 */
export function testEngine(): "sqlite" | "postgres" {
  const engine = process.env.HYPERION_TEST_ENGINE;
  if (engine === undefined || engine === "" || engine === "sqlite") return "sqlite";
  if (engine === "postgres") return "postgres";
  throw new Error(`HYPERION_TEST_ENGINE must be 'sqlite' or 'postgres' (got '${engine}')`);
}

/**
 * In postgres mode, the URL of a fresh, empty database on the run's shared cluster (one per
 * call: call it once per test file, or per test that needs its own); undefined in SQLite mode.
 */
export async function testDatabaseUrl(): Promise<string | undefined> {
  if (testEngine() !== "postgres") return undefined;
  const { inject } = await import("vitest");
  const base = inject("hyperionPostgres");
  if (!base)
    throw new Error(
      "HYPERION_TEST_ENGINE=postgres, but no shared cluster was started: run the tests through vitest.config.ts (npm run test:pg), whose globalSetup test-support/postgres-setup.ts starts it",
    );
  const db = freshDbName();
  await adminQuery(`${base}/postgres`, `CREATE DATABASE "${db}"`);
  return `${base}/${db}`;
}
