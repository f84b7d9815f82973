import { eq } from "drizzle-orm";
import type { LoadedConfig } from "@/server/config/load";
import { pipelineFor } from "@/server/config/policy";
import type { Db } from "@/server/db/client";
import { workerHeartbeats } from "@/server/db/schema";
import { databaseUnreachable } from "@/server/db/sql";
import { currentEnv, type HyperionEnv, readEnv } from "@/server/env.mjs";
import type { ObjectStore } from "@/server/git/objects";
import { log, withLogContext } from "@/server/log";
import { requestOfChange } from "@/server/state/requests/store";
import { withSpan } from "@/server/trace";
import { hostName } from "@/server/workers/heartbeat";
import { claimNext } from "../state/queue/claim";
import { reclaimExpired, releaseOwner } from "../state/queue/leases";
import { type QueueOptions, stillMoving } from "../state/queue/store";
import type { LandLock } from "./land-lock";
import { runPipeline } from "./pipeline";
import { type ProcessContext, processEntry } from "./process";
import { escalateQaWaits } from "./qa-gate";

/** The longest wait between tries while the database cannot be reached. */
const OUTAGE_WAIT_MAX_MS = 2000;
/** How often a thread looks for QA waits to escalate (each is escalated once, by any thread). */
const QA_SCAN_MS = 30_000;

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

/**
 * One queue thread: reclaim expired leases, claim the next runnable entry, carry it through,
 * repeat. `shouldStop` is checked between entries, so an entry in hand is finished.
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
  const stores = new Map<string, ObjectStore>();
  const startedAt = Date.now();
  let processed = 0;
  let lastBeat = 0;
  let lastQaScan = 0;
  // Set when the database went out of reach under an entry: whatever this thread still holds is
  // given back once it answers again (between entries a thread holds nothing).
  let giveBack = false;
  let outage = 0;
  try {
    while (!(await args.shouldStop())) {
      try {
        if (giveBack) {
          await releaseOwner(db, owner, opts);
          giveBack = false;
        }
        if (Date.now() - lastBeat > 1000) {
          await beatThread(db, owner, args.parentId ?? null, null, startedAt);
          lastBeat = Date.now();
        }
        await reclaimExpired(db, opts);
        // QA waits past their repository's limit are escalated to the operators (once each).
        if (Date.now() - lastQaScan > QA_SCAN_MS) {
          await escalateQaWaits(db, args.config());
          lastQaScan = Date.now();
        }
        // One moment for the claim and for the drain's question, so an entry that falls due
        // between two clock reads is not taken for one that can never move.
        const now = Date.now();
        const entry = await claimNext(db, owner, opts, now);
        outage = 0;
        if (!entry) {
          if (opts.drain && !(await stillMoving(db, now))) break;
          await new Promise((r) => setTimeout(r, opts.pollMs));
          continue;
        }
        args.onEntry?.(entry.id);
        await beatThread(db, owner, args.parentId ?? null, entry.id, startedAt);
        const ctx: ProcessContext = {
          db,
          config: args.config(),
          owner,
          opts,
          stores,
          landLock: args.landLock,
        };
        // A repository whose policy sets a pipeline lands a branch's entries as a lane
        // (pipeline.ts); an entry taken out of lanes (store.ts failMove) lands alone.
        const pipeline = pipelineFor(ctx.config, entry.repo);
        // The entry's lines carry its ids, and its span continues its request's trace (a lane's
        // span, that of the entry that leads it).
        const of = await requestOfChange(db, entry.changeRequestId);
        await withLogContext(
          {
            entryId: entry.id,
            taskId: of.taskId ?? undefined,
            requestId: of.requestId ?? undefined,
          },
          () =>
            withSpan(
              pipeline && entry.pipelined && !opts.dryRun ? "queue.lane" : "queue.entry",
              { "hyperion.entry": entry.id, "hyperion.repo": entry.repo },
              () =>
                pipeline && entry.pipelined && !opts.dryRun
                  ? runPipeline(ctx, entry, pipeline)
                  : processEntry(ctx, entry),
              of.traceParent,
            ),
        );
        processed++;
        args.onEntry?.(null);
      } catch (err) {
        // The database out of reach (this host cut off, the server restarting) is waited out,
        // a little longer each time up to a few seconds; anything else ends the thread, which
        // its supervisor respawns.
        if (!databaseUnreachable(err)) throw err;
        giveBack = true;
        outage++;
        log.warn(
          { thread: owner, error: (err as Error).message },
          "the database cannot be reached; trying again",
        );
        args.onEntry?.(null);
        await new Promise((r) =>
          setTimeout(r, Math.min(OUTAGE_WAIT_MAX_MS, opts.pollMs * 2 ** Math.min(outage, 10))),
        );
      }
    }
  } finally {
    for (const store of stores.values()) store.close();
    await db
      .update(workerHeartbeats)
      .set({ stoppedAt: Date.now(), currentEntryId: null })
      .where(eq(workerHeartbeats.id, owner));
  }
  return { processed };
}
