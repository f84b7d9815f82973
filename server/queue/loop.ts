import { eq } from "drizzle-orm";
import type { LoadedConfig } from "@/server/config/load";
import type { Db } from "@/server/db/client";
import { workerHeartbeats } from "@/server/db/schema";
import { databaseUnreachable } from "@/server/db/sql";
import { currentEnv, type HyperionEnv, readEnv } from "@/server/env.mjs";
import type { ObjectStore } from "@/server/git/objects";
import { log } from "@/server/log";
import { hostName } from "@/server/workers/heartbeat";
import { reclaimExpired } from "../state/queue/leases";
import type { QueueOptions } from "../state/queue/store";
import type { LandLock } from "./land-lock";
import { escalateQaWaits } from "./qa-gate";
import { OUTAGE_WAIT_MAX_MS, type RepoLoop, runRepoLoop, STRAYS } from "./repo-loop";

/** How often a thread looks for QA waits to escalate (each is escalated once, by any thread). */
const QA_SCAN_MS = 30_000;
/** The longest wait before a repository loop that ended on an error is started again. */
const RESTART_WAIT_MAX_MS = 30_000;

export type LoopOptions = QueueOptions & {
  checkTimeoutMs: number;
  dryRun: boolean;
  pollMs: number;
  /** Exit once nothing is pending (scripts and tests). */
  drain: boolean;
};

/**
 * The queue's timing from the environment, parsed and bounded by server/env.mjs: a parsed
 * environment (the process's by default), or variables to parse (`{}` for the defaults).
 */
export const defaultLoopOptions = (
  env: HyperionEnv | Record<string, string | undefined> = currentEnv(),
): Omit<LoopOptions, "drain"> => {
  const e = isParsed(env) ? env : readEnv(env);
  return {
    leaseMs: e.HYPERION_LEASE_MS,
    maxAttempts: e.HYPERION_MAX_ATTEMPTS,
    backoffBaseMs: e.HYPERION_BACKOFF_MS,
    backoffMaxMs: e.HYPERION_BACKOFF_MAX_MS,
    checkTimeoutMs: e.HYPERION_CHECK_TIMEOUT_MS,
    dryRun: e.HYPERION_APPLY === "dry-run",
    pollMs: e.HYPERION_POLL_MS,
  };
};

const isParsed = (env: object): env is HyperionEnv =>
  typeof (env as Partial<HyperionEnv>).dataDir === "string";

async function beatThread(
  db: Db,
  owner: string,
  parentId: string | null,
  currentEntryId: number | null,
  startedAt: number,
) {
  const now = Date.now();
  await db
    .insert(workerHeartbeats)
    .values({
      id: owner,
      pid: process.pid,
      host: hostName(),
      startedAt,
      beatAt: now,
      role: "thread",
      parentId,
      currentEntryId,
    })
    .onConflictDoUpdate({
      target: workerHeartbeats.id,
      set: { beatAt: now, currentEntryId, stoppedAt: null },
    });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * One queue thread: a loop per configured repository (queue/repo-loop.ts), each claiming only
 * its repository's entries and carrying them through one at a time, so a repository whose
 * checks hang or whose entries keep failing holds its own loops and never another's. The
 * thread itself beats, takes back expired leases, escalates QA waits, and starts the loop of a
 * repository added to the configuration. `shouldStop` is checked between entries, so an entry
 * in hand is finished.
 */
export async function runQueueLoop(args: {
  db: Db;
  config: () => LoadedConfig;
  owner: string;
  parentId?: string | null;
  opts: LoopOptions;
  shouldStop: () => boolean | Promise<boolean>;
  onEntry?: (entryId: number | null) => void;
  landLock?: LandLock;
}): Promise<{ processed: number }> {
  const { db, owner, opts } = args;
  const startedAt = Date.now();
  const thread = {
    stores: new Map<string, ObjectStore>(),
    inHand: new Map<string, number>(),
    processed: 0,
    stopping: false,
    fatal: null as unknown,
  };
  const loops = new Map<string, Promise<void>>();
  /** Repositories whose loop ended: in drain mode for good, else with when it may start again. */
  const ended = new Map<string, { failures: number; at: number }>();
  let lastBeat = 0;
  let lastQaScan = 0;
  let lastReclaim = 0;
  let outage = 0;
  const beatNow = () => {
    const held = [...thread.inHand.values()];
    return beatThread(
      db,
      owner,
      args.parentId ?? null,
      held.length ? Math.min(...held) : null,
      startedAt,
    );
  };
  const loopOf = (repo: string): RepoLoop => ({
    db,
    config: args.config,
    repo,
    owner: `${owner}/${repo}`,
    opts,
    thread,
    shouldStop: args.shouldStop,
    landLock: args.landLock,
    onEntry: (entryId) => {
      if (entryId === null) thread.inHand.delete(repo);
      else thread.inHand.set(repo, entryId);
      args.onEntry?.(entryId);
      if (entryId !== null) void beatNow().catch(() => undefined);
    },
  });
  const start = (repo: string) => {
    const run = runRepoLoop(loopOf(repo))
      .then(() => {
        ended.set(repo, { failures: 0, at: 0 });
      })
      .catch((err: unknown) => {
        // A drain (a script, a test) ends on it; a long-running thread keeps its other loops
        // going and starts this one again after a while, doubling while it keeps failing.
        if (opts.drain) {
          thread.fatal ??= err;
          thread.stopping = true;
        }
        const failures = (ended.get(repo)?.failures ?? 0) + 1;
        log.error(
          { thread: owner, repo, error: (err as Error).message ?? String(err) },
          "a repository's queue loop failed; its entries were given back",
        );
        ended.set(repo, {
          failures,
          at: Date.now() + Math.min(RESTART_WAIT_MAX_MS, opts.pollMs * 2 ** Math.min(failures, 12)),
        });
      })
      .finally(() => loops.delete(repo));
    loops.set(repo, run);
  };
  try {
    while (!thread.stopping) {
      if (await args.shouldStop()) break;
      try {
        if (Date.now() - lastBeat > 1000) {
          await beatNow();
          lastBeat = Date.now();
        }
        // Once per poll, however often a loop ending wakes the thread early.
        if (Date.now() - lastReclaim >= opts.pollMs) {
          await reclaimExpired(db, opts);
          lastReclaim = Date.now();
        }
        // QA waits past their repository's limit are escalated to the operators (once each).
        if (Date.now() - lastQaScan > QA_SCAN_MS) {
          await escalateQaWaits(db, args.config());
          lastQaScan = Date.now();
        }
        outage = 0;
      } catch (err) {
        // The database out of reach (this host cut off, the server restarting) is waited out,
        // a little longer each time up to a few seconds; anything else ends the thread, which
        // its supervisor respawns.
        if (!databaseUnreachable(err)) throw err;
        outage++;
        log.warn(
          { thread: owner, error: (err as Error).message },
          "the database cannot be reached; trying again",
        );
      }
      const now = Date.now();
      for (const repo of [...args.config().repositories.map((r) => r.name), STRAYS]) {
        if (loops.has(repo)) continue;
        const gone = ended.get(repo);
        if (gone && (opts.drain || gone.at > now)) continue;
        start(repo);
      }
      if (opts.drain && loops.size === 0) break;
      await Promise.race([
        sleep(
          outage
            ? Math.min(OUTAGE_WAIT_MAX_MS, opts.pollMs * 2 ** Math.min(outage, 10))
            : opts.pollMs,
        ),
        ...loops.values(),
      ]);
    }
    thread.stopping = true;
    await Promise.all(loops.values());
    if (thread.fatal) throw thread.fatal;
  } finally {
    thread.stopping = true;
    for (const store of thread.stores.values()) store.close();
    await db
      .update(workerHeartbeats)
      .set({ stoppedAt: Date.now(), currentEntryId: null })
      .where(eq(workerHeartbeats.id, owner));
  }
  return { processed: thread.processed };
}
