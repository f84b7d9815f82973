import { type ChildProcess, execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { type SQL, sql } from "drizzle-orm";
import type { LoadedConfig } from "@/server/config/load";
import { closeDb, migrateDb, openDb, type RootDb } from "@/server/db/client";
import { rawAll } from "@/server/db/sql";
import { submitChanges } from "@/server/queue/submit";
import { type Hosts, type HostsMode, makeHosts, startGitDaemon } from "./hosts";
import { type PgCluster, startPostgres } from "./postgres";

/**
 * A multi-host Hyperion on one machine (issue 21), for the hosts test and `npm run bench:scale`
 * and `npm run demo:hosts`: host "db" runs PostgreSQL and a git daemon serving one bare
 * repository (the remote every worker lands onto), and hosts "w1".."wN" each run `hyperion
 * worker` with a data folder and a config of their own — the repository configured by its
 * git:// URL on db, so each worker keeps its own mirror — HYPERION_DATABASE_URL pointing at db's
 * address and HYPERION_HOST set to the host's name.
 *
 * With network namespaces (test-support/hosts.ts) each host is a namespace on a private bridge;
 * this process stays in the root namespace, which must not open a connection into the hosts'
 * subnet, so it reaches PostgreSQL through the server's unix socket (a file: it crosses
 * namespaces) and reads the remote's repository from the disk. Where namespaces are refused
 * everything runs on 127.0.0.1 with ports of its own ("loopback"), and hosts cannot be cut.
 *
 * The repository: one area a lane (policy queue.pipeline lanes "area"), areas `a0`..`aK`, and one
 * check, `slow`, that sleeps. A change creates one new file in one area, so changes are disjoint
 * and every thread on every host can land one at the same time; the pipeline's window is 1 by
 * default, so a thread checks one change at a time and a host's capacity is its threads (as a
 * host's CPUs would bound real checks).
 */

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "..");
const BIN = path.join(ROOT, "bin", "hyperion.mjs");
const REPO = "shared";
const DB_NAME = "hyperion";

export type ClusterOptions = {
  /** Worker hosts, named w1..wN. */
  workers: number;
  /** Queue threads per worker (`hyperion worker --threads`); default 3. */
  threads?: number;
  /** How long the policy's check sleeps, in seconds; default 1. */
  checkSeconds?: number;
  /** Areas, each a lane of its own; default 16. */
  areas?: number;
  /** The pipeline's window (and so the check runs a thread has in flight); default 1. */
  window?: number;
  /** HYPERION_LEASE_MS of every worker; default 5000. */
  leaseMs?: number;
  /** "auto" (default): network namespaces where allowed, else loopback. */
  mode?: "auto" | HostsMode;
  /** Options for node itself, before the worker's script (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** Extra variables for every worker. */
  env?: Record<string, string>;
  /** Where the cluster's folders go (default: a new temp folder, removed by stop()). */
  dir?: string;
};

export type WorkerHost = {
  name: string;
  /** The running `hyperion worker` process, or null. */
  child: ChildProcess | null;
  /** The worker's data folder (its config, its mirror). */
  dataDir: string;
  /** Its stderr and stdout, across restarts. */
  logPath: string;
};

export type Change = { id: number; entryId: number; index: number; file: string };

export type Cluster = {
  hosts: Hosts;
  mode: HostsMode;
  /** One line saying how the hosts run (namespaces on a subnet, or loopback and why). */
  describe: string;
  pg: PgCluster;
  /** The workers' database URL (TCP on db's address). */
  databaseUrl: string;
  /** The same database through the server's unix socket, for this process (any namespace). */
  socketUrl: string;
  /** This process's connection (through the socket). */
  db: RootDb;
  /** The remote's git:// URL and its bare repository on the disk. */
  remoteUrl: string;
  barePath: string;
  workers: WorkerHost[];
  leaseMs: number;
  threads: number;
  /** Starts (or restarts) the worker on `host`; resolves once it has beaten into the database. */
  start(host: string): Promise<void>;
  /**
   * SIGKILLs the worker on `host` — its process group, and with namespaces every process on the
   * host, as a machine that dies — and resolves once it is reaped. The moment it was sent.
   */
  kill(host: string): Promise<number>;
  /**
   * Workers that ended on their own (not by kill() or stop()): the host, how it ended, and the
   * end of its log. A worker should survive a cut and the database going away.
   */
  crashes: string[];
  /** The id of the running worker's supervisor on `host` (its heartbeat row), or null. */
  supervisor(host: string): Promise<string | null>;
  /** Takes the host's link down (namespaces only); the moment it was cut. */
  cut(host: string): Promise<number>;
  heal(host: string): Promise<void>;
  /** Queues `n` changes, each a new file in area (index mod areas) with the `slow` check. */
  submit(n: number, first?: number): Promise<Change[]>;
  /**
   * This machine's environment without any HYPERION_* or NEXTAUTH_* variable of this process,
   * plus `extra`: for another Hyperion process started next to the cluster (the demo's web host).
   */
  cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv;
  /** Rows of a query on the database. */
  rows<T>(query: SQL): Promise<T[]>;
  /** Every "Hyperion-Change-Request: N" trailer on the remote's main, counted by N. */
  trailers(): Promise<Map<number, number>>;
  /** `hyperion status` as run on a worker host (its stdout). */
  status(host?: string): Promise<string>;
  /** The last lines of a worker's log. */
  logTail(host: string, lines?: number): string;
  /** Stops the workers, PostgreSQL, the git daemon and the hosts; removes the folders. */
  stop(): Promise<void>;
};

const gitEnv = {
  GIT_AUTHOR_NAME: "Cluster",
  GIT_AUTHOR_EMAIL: "cluster@example.test",
  GIT_COMMITTER_NAME: "Cluster",
  GIT_COMMITTER_EMAIL: "cluster@example.test",
};

/** `--name=N` from the command line, a whole number from 1, else `fallback`; exit 2 naming it. */
export function wholeArg(name: string, fallback: number): number {
  const raw = process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${name} must be a whole number from 1 (got ${raw})`);
    process.exit(2);
  }
  return n;
}

export const areaOf = (index: number, areas: number) => `a${index % areas}`;
export const fileOf = (index: number, areas: number) => `${areaOf(index, areas)}/c${index}.txt`;

/** A patch that creates `file` with one line. */
export function newFilePatch(file: string, line: string): string {
  return [
    `diff --git a/${file} b/${file}`,
    "new file mode 100644",
    "--- /dev/null",
    `+++ b/${file}`,
    "@@ -0,0 +1 @@",
    `+${line}`,
    "",
  ].join("\n");
}

export function clusterPolicy(opts: { areas: number; checkSeconds: number; window: number }) {
  return {
    areas: Array.from({ length: opts.areas }, (_, k) => ({
      name: `a${k}`,
      paths: [`a${k}/**`],
      risk: "low" as const,
      lockScope: "files" as const,
    })),
    checks: { slow: `sleep ${opts.checkSeconds}` },
    validation: { lint: [], test: ["slow"], byArea: {} },
    queue: {
      pipeline: {
        window: opts.window,
        batch: { max: 1 },
        flakyReruns: 0,
        lanes: "area" as const,
      },
    },
  };
}

/** The bare repository the remote serves: main with a README. */
async function makeBare(bare: string): Promise<void> {
  const seed = `${bare}.seed`;
  await run("git", ["init", "-q", "-b", "main", seed]);
  fs.writeFileSync(path.join(seed, "README.md"), "# shared\n");
  await run("git", ["-C", seed, "add", "README.md"]);
  await run("git", ["-C", seed, "commit", "-q", "-m", "initial"], {
    env: { ...process.env, ...gitEnv },
  });
  await run("git", ["clone", "-q", "--bare", seed, bare]);
  fs.rmSync(seed, { recursive: true, force: true });
}

/** Makes the hosts, starts PostgreSQL and the git daemon on db; the workers are not started. */
export async function makeCluster(opts: ClusterOptions): Promise<Cluster> {
  const threads = opts.threads ?? 3;
  const checkSeconds = opts.checkSeconds ?? 1;
  const areas = opts.areas ?? 16;
  const window = opts.window ?? 1;
  const leaseMs = opts.leaseMs ?? 5000;
  const names = Array.from({ length: opts.workers }, (_, i) => `w${i + 1}`);
  const ownDir = opts.dir === undefined;
  const root = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "hyperion-cluster-"));
  fs.mkdirSync(root, { recursive: true });
  // PostgreSQL's folder is made in it, and the server runs as postgres: let it through.
  fs.chmodSync(root, 0o755);
  const hosts = await makeHosts({ hosts: ["db", ...names], mode: opts.mode ?? "auto" });
  const describe =
    hosts.mode === "netns"
      ? `hosts: network namespaces on ${hosts.subnet} (db ${hosts.address("db")}, ${names.map((n) => `${n} ${hosts.address(n)}`).join(", ")})`
      : `hosts: loopback fallback, 127.0.0.1 for every host with ports of their own (${hosts.fallbackReason}); hosts cannot be cut`;

  let pg: PgCluster | null = null;
  let daemon: Awaited<ReturnType<typeof startGitDaemon>> | null = null;
  let db: RootDb | null = null;
  // PostgreSQL runs in a session of its own (pg_ctl): if this process ends without stop(), by
  // an exit or a signal, it is stopped here (the hosts clean up after themselves likewise).
  const stopSync = () => {
    pg?.stopSync();
    if (ownDir) fs.rmSync(root, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    stopSync();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  process.once("exit", stopSync);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const cleanup = async () => {
    process.off("exit", stopSync);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (db) await closeDb(db).catch(() => undefined);
    await daemon?.stop().catch(() => undefined);
    await pg?.stop().catch(() => undefined);
    await hosts.destroy();
    if (ownDir) fs.rmSync(root, { recursive: true, force: true });
  };
  try {
    // PostgreSQL on db: TCP on db's address (inside its namespace), and its socket in its folder.
    pg = await startPostgres(
      hosts.mode === "netns"
        ? {
            parent: root,
            listen: hosts.address("db"),
            port: await hosts.freePort("db"),
            netns: hosts.namespace("db") as string,
            trustFrom: hosts.subnet as string,
          }
        : { parent: root },
    );
    // The server runs as postgres; its socket folder must let this process in (root does).
    const databaseUrl = await pg.createDatabase(DB_NAME);
    const socketUrl = pg.socketUrl(DB_NAME);

    const gitBase = path.join(root, "git");
    fs.mkdirSync(gitBase);
    const barePath = path.join(gitBase, `${REPO}.git`);
    await makeBare(barePath);
    daemon = await startGitDaemon(hosts, "db", gitBase);
    const remoteUrl = daemon.repoUrl(`${REPO}.git`);

    const policy = clusterPolicy({ areas, checkSeconds, window });
    db = openDb(socketUrl, { name: "hyperion-cluster" });
    await migrateDb(db);

    const workers: WorkerHost[] = names.map((name) => {
      const dataDir = path.join(root, "hosts", name);
      fs.mkdirSync(dataDir, { recursive: true });
      fs.writeFileSync(
        path.join(dataDir, "hyperion.config.json"),
        `${JSON.stringify(
          {
            repositories: [
              {
                name: REPO,
                remote: remoteUrl,
                targetBranch: "main",
                fetchIntervalSeconds: 5,
                policy,
              },
            ],
          },
          null,
          2,
        )}\n`,
      );
      return { name, child: null, dataDir, logPath: path.join(dataDir, "worker.log") };
    });
    const worker = (name: string) => {
      const w = workers.find((x) => x.name === name);
      if (!w) throw new Error(`no worker host ${name}: the workers are ${names.join(", ")}`);
      return w;
    };
    const cleanEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => {
      const env: NodeJS.ProcessEnv = { ...process.env };
      // The machine's variables, none of this process's HYPERION_* (a test run sets some).
      for (const k of Object.keys(env))
        if (k.startsWith("HYPERION_") || k.startsWith("NEXTAUTH_")) delete env[k];
      return { ...env, ...extra };
    };
    const workerEnv = (w: WorkerHost): NodeJS.ProcessEnv =>
      cleanEnv({
        HYPERION_DATA: w.dataDir,
        HYPERION_DATABASE_URL: databaseUrl,
        HYPERION_HOST: w.name,
        HYPERION_LEASE_MS: String(leaseMs),
        HYPERION_POLL_MS: "50",
        HYPERION_DISPATCH_MS: "500",
        HYPERION_BACKOFF_MS: "50",
        HYPERION_BACKOFF_MAX_MS: "500",
        // A change a kill or a cut interrupts may be tried again several times.
        HYPERION_MAX_ATTEMPTS: "50",
        ...opts.env,
      });

    const crashes: string[] = [];
    const killing = new Set<ChildProcess>();
    const conn = db;
    const rows = <T>(query: SQL) => rawAll<T>(conn, query);
    const submitConfig: LoadedConfig = {
      file: "cluster",
      // This process queues from the remote's own repository (a mirror that is never stale).
      repositories: [
        {
          name: REPO,
          path: barePath,
          remote: remoteUrl,
          targetBranch: "main",
          policy: (await import("@/schemas/policy")).Policy.parse(policy),
        },
      ],
    };

    const cluster: Cluster = {
      hosts,
      mode: hosts.mode,
      describe,
      pg,
      databaseUrl,
      socketUrl,
      db: conn,
      remoteUrl,
      barePath,
      workers,
      leaseMs,
      threads,
      crashes,

      async start(name) {
        const w = worker(name);
        if (w.child && w.child.exitCode === null && w.child.signalCode === null)
          throw new Error(`the worker on ${name} is running already`);
        const out = fs.openSync(w.logPath, "a");
        fs.writeSync(out, `\n--- started ${new Date().toISOString()} ---\n`);
        const child = hosts.spawn(
          name,
          process.execPath,
          [...(opts.nodeArgs ?? []), BIN, "worker", "--threads", String(threads)],
          { cwd: ROOT, env: workerEnv(w), stdio: ["ignore", out, out] },
        );
        fs.closeSync(out);
        w.child = child;
        // Started once it has beaten (its supervisor's row, under its pid and host name).
        let ended: string | null = null;
        child.once("exit", (code, signal) => {
          ended = signal ?? `exit code ${code}`;
          if (!killing.has(child))
            crashes.push(`${name}: the worker ended (${ended})\n${cluster.logTail(name)}`);
          if (w.child === child) w.child = null;
        });
        for (let i = 0; ; i++) {
          if (ended)
            throw new Error(
              `the worker on ${name} ended (${ended}) before it beat:\n${cluster.logTail(name)}`,
            );
          const [row] = await rows<{ n: number }>(
            sql`SELECT count(*) AS n FROM worker_heartbeats
                 WHERE host = ${name} AND pid = ${child.pid ?? -1} AND stopped_at IS NULL
                   AND role = 'supervisor'`,
          );
          if (Number(row?.n) > 0) return;
          if (i > 1200)
            throw new Error(
              `the worker on ${name} did not beat in 1200 polls:\n${cluster.logTail(name)}`,
            );
          await new Promise((r) => setTimeout(r, 50));
        }
      },

      async kill(name) {
        const w = worker(name);
        const child = w.child;
        const at = Date.now();
        if (!child || child.pid === undefined) return at;
        killing.add(child);
        const gone =
          child.exitCode !== null || child.signalCode !== null
            ? Promise.resolve()
            : new Promise<void>((r) => child.once("exit", () => r()));
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // gone already
        }
        // A machine that dies takes everything on it: what the worker started in groups of
        // their own (checks, git) too.
        const ns = hosts.namespace(name);
        if (ns) {
          const { stdout } = await run("ip", ["netns", "pids", ns]).catch(() => ({ stdout: "" }));
          for (const pid of stdout.split(/\s+/).filter(Boolean).map(Number))
            try {
              if (pid > 1 && pid !== process.pid) process.kill(pid, "SIGKILL");
            } catch {
              // gone already
            }
        }
        await gone;
        w.child = null;
        return at;
      },

      async supervisor(name) {
        const pid = worker(name).child?.pid;
        if (pid === undefined) return null;
        const [row] = await rows<{ id: string }>(
          sql`SELECT id FROM worker_heartbeats
               WHERE host = ${name} AND pid = ${pid} AND role = 'supervisor'
               ORDER BY started_at DESC LIMIT 1`,
        );
        return row?.id ?? null;
      },

      async cut(name) {
        const at = Date.now();
        await hosts.cut(name);
        return at;
      },

      heal: (name) => hosts.heal(name),

      async submit(n, first = 0) {
        const changes = Array.from({ length: n }, (_, k) => {
          const index = first + k;
          const file = fileOf(index, areas);
          return {
            repo: REPO,
            patch: newFilePatch(file, `change ${index}`),
            summary: `change ${index}`,
            author: { name: "Cluster", email: "cluster@example.test" },
            taskId: `c-${index}`,
            checks: ["slow"],
          };
        });
        const out: Change[] = [];
        // In slices, so one transaction never holds hundreds of patches.
        for (let i = 0; i < changes.length; i += 50) {
          const submitted = await submitChanges(conn, changes.slice(i, i + 50), submitConfig);
          submitted.forEach((s, k) => {
            const index = first + i + k;
            out.push({ id: s.id, entryId: s.entryId, index, file: fileOf(index, areas) });
          });
        }
        return out;
      },

      cleanEnv,
      rows,

      async trailers() {
        const { stdout } = await run("git", ["-C", barePath, "log", "--format=%B", "main"], {
          maxBuffer: 64 * 1024 * 1024,
        });
        const counts = new Map<number, number>();
        for (const line of stdout.split("\n")) {
          const m = /^Hyperion-Change-Request: (\d+)$/.exec(line);
          if (m) counts.set(Number(m[1]), (counts.get(Number(m[1])) ?? 0) + 1);
        }
        return counts;
      },

      async status(host = names[0] ?? "db") {
        const w = workers.find((x) => x.name === host);
        const env = w
          ? workerEnv(w)
          : { ...workerEnv(workers[0] as WorkerHost), HYPERION_HOST: host };
        const r = await hosts.exec(host, process.execPath, [BIN, "status"], {
          cwd: ROOT,
          env,
          reject: false,
        });
        return r.stdout + (r.exitCode === 0 ? "" : r.stderr);
      },

      logTail(name, lines = 40) {
        try {
          return fs.readFileSync(worker(name).logPath, "utf8").split("\n").slice(-lines).join("\n");
        } catch {
          return "(no log)";
        }
      },

      async stop() {
        for (const w of workers) if (w.child) await cluster.kill(w.name).catch(() => undefined);
        await cleanup();
      },
    };
    return cluster;
  } catch (err) {
    await cleanup().catch(() => undefined);
    throw err;
  }
}
