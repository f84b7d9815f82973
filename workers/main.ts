import { randomUUID } from "node:crypto";
import path from "node:path";
import { inspect } from "node:util";
import { Worker } from "node:worker_threads";
import { startAlerts } from "@/server/alerts/loop";
import { shippingProblem, startShipping } from "@/server/backup/shipping";
import { CliError } from "@/server/cli/io";
import { ConfigError, currentConfig } from "@/server/config/load";
import { describeSandbox, detectSandbox } from "@/server/confine/detect";
import { closeDb, type Db, dbTarget, migrateDb, openDb, type RootDb } from "@/server/db/client";
import { assertSchemaCurrent, databaseProblem, watchSchema } from "@/server/db/version";
import { advance } from "@/server/dispatch/advance";
import { type RepoDispatchers, startRepoDispatchers } from "@/server/dispatch/loops";
import { currentEnv, EnvError, type HyperionEnv } from "@/server/env.mjs";
import { startGithub } from "@/server/github/loop";
import { watchInbox } from "@/server/inbox/watch";
import { log } from "@/server/log";
import { startMetaQueue } from "@/server/meta/loop";
import { LAND_LOCK_BYTES } from "@/server/queue/land-lock";
import { defaultLoopOptions, type LoopOptions } from "@/server/queue/loop";
import { redactPaths } from "@/server/redact";
import { startFetcher, syncDue } from "@/server/remotes/sync";
import { AgentPool, recoverLostRuns } from "@/server/runs/pool";
import { releaseOwner } from "@/server/state/queue/leases";
import { startVerifier } from "@/server/verify/scheduler";
import { beat, HEARTBEAT_MS, markStopped, ownerAlive } from "@/server/workers/heartbeat";
import type { ThreadData, ThreadMessage } from "./queue-thread";

export type WorkerOptions = { threads: number; drain: boolean; dryRun?: boolean };

const STOP_GRACE_MS = 30_000;
const MAX_RESPAWNS = 10;

/**
 * Why a queue thread died, for the operator's log: the error's name, code, message and stack,
 * with server paths redacted (server/redact.ts). The thread passes on whatever killed it as a
 * real Error (queue-thread-entry.mjs); anything else is described as it is.
 */
export function crashReason(err: unknown): {
  name: string;
  code?: string;
  message: string;
  stack?: string;
} {
  if (!(err instanceof Error))
    return { name: typeof err, message: redactPaths(inspect(err, { breakLength: Infinity })) };
  const code = (err as { code?: unknown }).code;
  return {
    name: err.name,
    ...(code !== undefined ? { code: String(code) } : {}),
    message: redactPaths(err.message),
    ...(err.stack ? { stack: redactPaths(err.stack) } : {}),
  };
}

/**
 * The worker process: a supervisor that beats into SQLite and runs the merge queue on N
 * threads, each with its own connection. A thread that crashes is respawned (its entry's lease
 * expires and another thread reclaims it). SIGTERM asks each thread to finish the entry in hand.
 *
 * Plain worker_threads rather than a pool library: each thread is a long-running claim loop
 * against SQLite, not a job handed to an idle thread, so a pool's queueing would sit unused.
 */
export async function runSupervisor(
  db: RootDb,
  env: HyperionEnv,
  options: WorkerOptions,
): Promise<void> {
  const id = `worker-${randomUUID().slice(0, 8)}`;
  const startedAt = Date.now();
  // A stop asked for while the worker is still starting is kept, and acted on once it can be:
  // the handlers are in place before the first beat makes the worker visible.
  let asked: string | null = null;
  let onStop = (signal: string) => {
    asked ??= signal;
  };
  // `on`, not `once` (stop() acts once): while a git command runs (execa), signal-exit listens
  // too, and finding itself the only listener left — a `once` handler is removed before it
  // runs — it re-sends the signal, which then killed the worker mid-stop by its default action.
  process.on("SIGTERM", () => onStop("SIGTERM"));
  process.on("SIGINT", () => onStop("SIGINT"));
  await beat(db, id, startedAt);
  // A beat the database does not take (it cannot be reached: this host is cut off, the server
  // restarts) is not the end of the worker: the next beat tries again, and meanwhile others may
  // judge its leases lost (their late writes are refused by the attempt).
  const timer = setInterval(
    () =>
      void beat(db, id, startedAt).catch((err: Error) =>
        log.warn({ worker: id, error: err.message }, "heartbeat not written"),
      ),
    HEARTBEAT_MS,
  );
  // Remote repositories: each mirror is fetched before anything reads it, then at its interval.
  await syncDue(db, currentConfig(env.configPath), { all: true });
  const fetcher = startFetcher(db, () => currentConfig(env.configPath));
  // GitHub intake: stored webhook deliveries, reconciliation, status comments (docs/github.md).
  const github = options.drain ? null : startGithub(db, () => currentConfig(env.configPath));
  // The audit log shipped to the config's shipping folder or bucket (docs/storage.md).
  const shipping = startShipping(db, () => currentConfig(env.configPath), `${id}/shipping`);
  const threads = new QueueThreads(db, env, id, {
    ...defaultLoopOptions(env),
    drain: options.drain,
    ...(options.dryRun ? { dryRun: true } : {}),
  });
  await threads.start(options.threads);
  let stopping = false;

  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ worker: id, signal }, "stopping: threads finish the entry in hand");
    // Agent runs are stopped (their whole process trees) and their tasks go back to pending.
    void agents.stopAll(`the worker stopped (${signal})`);
    // A verification in hand finishes its check run and is left for the next worker.
    void verifier?.stop();
    threads.stop();
  };

  const { agents, recovery } = await startAgents(db, env, id);
  for (const [key, probe] of await agents.probeAll(currentConfig(env.configPath))) {
    if (probe.ok) log.info({ agent: key, version: probe.version }, "agent ready");
    else log.warn({ agent: key, problem: probe.problem, fix: probe.fix }, "agent not available");
  }
  const dispatcher = startDispatcher(db, env, id, agents, () => stopping);

  // Post-merge verification (policy.postMerge): after landings, the branch's tip is checked on
  // the supervisor's connection, one pass at a time, off the queue threads. Not for --drain,
  // which ends when the queue is empty (scripts run `hyperion verify`).
  const verifier = options.drain
    ? null
    : startVerifier({
        db,
        config: () => currentConfig(env.configPath),
        owner: `${id}/verify`,
        intervalMs: Math.max(1000, env.HYPERION_DISPATCH_MS),
        timeoutMs: env.HYPERION_CHECK_TIMEOUT_MS,
      });

  // Alert rules (config `alerts`): checked, fired once across hosts, and sent to their webhooks.
  const alerts = options.drain
    ? null
    : startAlerts({
        db,
        config: () => currentConfig(env.configPath),
        owner: `${id}/alerts`,
        self: id,
        intervalMs: Math.max(2000, env.HYPERION_DISPATCH_MS),
        ...(env.NEXTAUTH_URL ? { baseUrl: env.NEXTAUTH_URL } : {}),
      });

  // The workspace meta queue: items whose effect had to wait are applied once they can be.
  const meta = startMetaQueue(db, Math.max(1000, env.HYPERION_DISPATCH_MS));

  const inbox = options.drain
    ? null
    : watchInbox(
        db,
        () => currentConfig(env.configPath),
        env.HYPERION_INBOX ? path.resolve(env.HYPERION_INBOX) : path.join(env.dataDir, "inbox"),
        { maxBytes: env.HYPERION_MAX_BODY_BYTES, requesterEmail: env.HYPERION_INBOX_USER },
      );

  log.info({ worker: id, threads: options.threads, drain: options.drain }, "worker started");
  onStop = stop;
  if (asked) stop(asked);
  // A host of a newer version migrating the database (a rolling upgrade) stops this one: its
  // threads finish the entry in hand, and it exits 2 saying what to do, as it would at start.
  const schema = watchSchema(db, (message) => {
    console.error(`hyperion worker: ${message}`);
    log.error({ worker: id }, message);
    process.exitCode = 2;
    stop("a newer schema");
  });
  // Always said at start, whatever the log level: an operator checks the sandbox here or with
  // `hyperion doctor`.
  const sandbox = detectSandbox();
  if (sandbox.kind === "none") log.warn({ confinement: "none" }, describeSandbox(sandbox));
  else console.error(`hyperion worker: ${describeSandbox(sandbox)}`);
  await threads.done;
  schema.stop();
  dispatcher.stop();
  clearInterval(recovery);
  await fetcher.stop();
  await github?.stop();
  await shipping.stop();
  await agents.stopAll("the worker stopped");
  await verifier?.stop();
  await alerts?.stop();
  await meta.stop();
  await inbox?.close();
  clearInterval(timer);
  await markStopped(db, id);
  if (threads.failed && !process.exitCode) process.exitCode = 1;
}

/**
 * The merge queue's threads: started, respawned when one crashes (up to MAX_RESPAWNS, not
 * while stopping), asked to stop; `done` once none is left.
 */
class QueueThreads {
  private readonly threads = new Map<string, Worker>();
  private readonly landLock = new SharedArrayBuffer(LAND_LOCK_BYTES);
  private stopping = false;
  private respawns = 0;
  private resolveAll: () => void = () => {};
  /** A thread ended with an error and was not respawned. */
  failed = false;
  readonly done = new Promise<void>((resolve) => {
    this.resolveAll = resolve;
  });

  constructor(
    private readonly db: Db,
    private readonly env: HyperionEnv,
    private readonly id: string,
    private readonly opts: LoopOptions,
  ) {}

  async start(n: number): Promise<void> {
    for (let i = 0; i < n; i++) await this.spawn(i);
  }

  /** Each thread finishes the entry in hand; one still running after STOP_GRACE_MS is ended. */
  stop(): void {
    this.stopping = true;
    for (const t of this.threads.values()) t.postMessage("stop");
    setTimeout(() => {
      for (const t of this.threads.values()) void t.terminate();
    }, STOP_GRACE_MS).unref();
  }

  private spawn(index: number): void {
    const { env } = this;
    const owner = `${this.id}/t${index}`;
    const data: ThreadData = {
      dbTarget: dbTarget(env),
      configPath: env.configPath,
      owner,
      parentId: this.id,
      opts: this.opts,
      tsconfig: path.join(env.rootDir, "tsconfig.json"),
      sources: env.HYPERION_CLI_SOURCES === "1",
      landLock: this.landLock,
    };
    const worker = new Worker(path.join(env.rootDir, "workers", "queue-thread-entry.mjs"), {
      workerData: data,
    });
    this.threads.set(owner, worker);
    worker.on("message", (msg: ThreadMessage) => {
      if (msg.type === "entry") log.debug({ thread: owner, entry: msg.entryId }, "thread entry");
    });
    worker.on("error", (err: unknown) =>
      // Not under `err`: pino's error serializer would replace the name with "Object".
      log.error({ thread: owner, error: crashReason(err) }, "queue thread crashed"),
    );
    worker.on("exit", async (code) => {
      this.threads.delete(owner);
      // What it held is given back now: its respawn takes the same owner name, and this process
      // goes on beating, so no lease of it would ever be judged lost.
      if (code !== 0) {
        // Unless the database is out of reach: then their leases run out as a dead worker's.
        const released = await releaseOwner(this.db, owner, this.opts).catch((err: Error) => {
          log.warn(
            { thread: owner, error: err.message },
            "entries of a crashed thread not given back",
          );
          return 0;
        });
        if (released)
          log.warn({ thread: owner, released }, "entries of a crashed thread given back");
      }
      if (code !== 0 && !this.stopping && this.respawns < MAX_RESPAWNS) {
        this.respawns++;
        log.warn({ thread: owner, code }, "respawning queue thread");
        await this.spawn(index);
        return;
      }
      if (code !== 0) this.failed = true;
      if (this.threads.size === 0) this.resolveAll();
    });
  }
}

/**
 * Agent runs (codex, claude, copilot, command) go on in the background, supervised here; runs
 * a dead worker left are found and their tasks requeued, now and every few seconds.
 */
async function startAgents(
  db: Db,
  env: HyperionEnv,
  id: string,
): Promise<{ agents: AgentPool; recovery: NodeJS.Timeout }> {
  const agents = new AgentPool({
    db,
    dataDir: env.dataDir,
    owner: `${id}/dispatcher`,
    leaseMs: env.HYPERION_TASK_LEASE_MS,
  });
  const recover = async () => {
    try {
      const n = await recoverLostRuns(db, async (owner) => ownerAlive(db, owner));
      if (n)
        log.warn({ runs: n }, "agent runs of a dead worker were marked lost; their tasks requeued");
    } catch (err) {
      log.warn({ err: (err as Error).message }, "recovering lost runs failed");
    }
  };
  await recover();
  return { agents, recovery: setInterval(recover, 10_000) };
}

/**
 * The dispatcher, a loop per repository (server/dispatch/loops.ts): plans received requests,
 * dispatches tasks past the gate, runs the built-in developer and starts agent runs, on the
 * supervisor's own connection, one pass at a time per repository.
 */
function startDispatcher(
  db: Db,
  env: HyperionEnv,
  id: string,
  agents: AgentPool,
  stopping: () => boolean,
): RepoDispatchers {
  return startRepoDispatchers({
    config: () => currentConfig(env.configPath),
    intervalMs: env.HYPERION_DISPATCH_MS,
    pass: (config, repo) =>
      stopping()
        ? Promise.resolve()
        : advance(
            db,
            config,
            `${id}/dispatcher`,
            undefined,
            env.HYPERION_TASK_LEASE_MS,
            agents,
            repo,
          ),
  });
}

export async function runWorkerProcess(
  options: WorkerOptions = { threads: 3, drain: false },
): Promise<void> {
  // A bad variable stops the worker at start with the message (exit 2), as a bad config does.
  let env: HyperionEnv;
  try {
    env = currentEnv();
  } catch (err) {
    if (err instanceof EnvError) throw new CliError(err.message, 2);
    throw err;
  }
  // A bad config at start stops the worker with the message (exit 2); once running, the
  // config this loads is the last good one its threads fall back on.
  try {
    const config = currentConfig(env.configPath);
    // A bucket to ship the audit log to, and no credentials for it: said now, not at each round.
    const shipping = shippingProblem(config, env);
    if (shipping) throw new ConfigError(`${shipping}. See docs/storage.md, "Log shipping".`);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, 2);
    throw err;
  }
  // A database that cannot be used (unreachable, a wrong password, a schema of another
  // version) stops the worker at start with its cause (exit 2).
  const target = dbTarget(env);
  const db = openDb(target, { name: "hyperion-worker" });
  try {
    await migrateDb(db);
    await assertSchemaCurrent(db);
  } catch (err) {
    await closeDb(db);
    throw new CliError(databaseProblem(target, err as Error), 2);
  }
  try {
    await runSupervisor(db, env, options);
  } finally {
    await closeDb(db);
  }
}
