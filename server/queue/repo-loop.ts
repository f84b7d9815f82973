import type { LoadedConfig } from "@/server/config/load";
import { pipelineFor } from "@/server/config/policy";
import type { Db } from "@/server/db/client";
import { databaseUnreachable } from "@/server/db/sql";
import type { ObjectStore } from "@/server/git/objects";
import { log, withLogContext } from "@/server/log";
import { requestOfChange } from "@/server/state/requests/store";
import { withSpan } from "@/server/trace";
import { type ClaimScope, claimNext } from "../state/queue/claim";
import { releaseOwner } from "../state/queue/leases";
import { type QueueOptions, stillMoving } from "../state/queue/store";
import type { LandLock } from "./land-lock";
import { runPipeline } from "./pipeline";
import { type ProcessContext, processEntry } from "./process";

/** The loop for entries of repositories no longer configured: they fail, saying so. */
export const STRAYS = "*";

/** The longest wait between tries while the database cannot be reached. */
export const OUTAGE_WAIT_MAX_MS = 2000;

/** What a repository's loop shares with the others of its thread. */
export type ThreadState = {
  stores: Map<string, ObjectStore>;
  processed: number;
  stopping: boolean;
};

export type RepoLoop = {
  db: Db;
  config: () => LoadedConfig;
  /** The repository, or STRAYS. */
  repo: string;
  /** The lease owner: the thread's, with the repository's name below it. */
  owner: string;
  opts: QueueOptions & { checkTimeoutMs: number; dryRun: boolean; pollMs: number; drain: boolean };
  thread: ThreadState;
  /** The thread's stop, asked between entries (as the thread asks it between rounds). */
  shouldStop: () => boolean | Promise<boolean>;
  landLock?: LandLock;
  onEntry: (entryId: number | null) => void;
};

/**
 * One repository's loop in a queue thread (the seed's repo loop worker, for the merge queue):
 * claims only its repository's entries, one at a time, and carries each through. It ends when
 * the thread stops, when its repository leaves the configuration, or, draining, once nothing
 * is left to do anywhere.
 */
export async function runRepoLoop(loop: RepoLoop): Promise<void> {
  const { db, owner, opts, thread } = loop;
  // Set when the database went out of reach under an entry: what this loop still holds is
  // given back once it answers again (between entries a loop holds nothing).
  let giveBack = false;
  let outage = 0;
  while (!thread.stopping) {
    if (await loop.shouldStop()) {
      thread.stopping = true;
      return;
    }
    try {
      if (giveBack) {
        await releaseOwner(db, owner, opts);
        giveBack = false;
      }
      const config = loop.config();
      const names = config.repositories.map((r) => r.name);
      if (loop.repo !== STRAYS && !names.includes(loop.repo)) return;
      const scope: ClaimScope = loop.repo === STRAYS ? { notIn: names } : { repo: loop.repo };
      // One moment for the claim and for the drain's question, so an entry that falls due
      // between two clock reads is not taken for one that can never move.
      const now = Date.now();
      const entry = await claimNext(db, owner, opts, now, scope);
      outage = 0;
      if (!entry) {
        if (opts.drain && !(await stillMoving(db, now))) return;
        await new Promise((r) => setTimeout(r, opts.pollMs));
        continue;
      }
      loop.onEntry(entry.id);
      try {
        await carry(loop, config, entry);
        thread.processed++;
      } finally {
        loop.onEntry(null);
      }
    } catch (err) {
      // The database out of reach is waited out, a little longer each time up to a few
      // seconds; anything else ends this loop (its thread starts it again).
      if (!databaseUnreachable(err)) {
        await releaseOwner(db, owner, opts).catch(() => 0);
        throw err;
      }
      giveBack = true;
      outage++;
      log.warn(
        { thread: owner, error: (err as Error).message },
        "the database cannot be reached; trying again",
      );
      await new Promise((r) =>
        setTimeout(r, Math.min(OUTAGE_WAIT_MAX_MS, opts.pollMs * 2 ** Math.min(outage, 10))),
      );
    }
  }
}

/** Carries one claimed entry through: alone, or leading its lane in a speculative pipeline. */
async function carry(
  loop: RepoLoop,
  config: LoadedConfig,
  entry: NonNullable<Awaited<ReturnType<typeof claimNext>>>,
): Promise<void> {
  const ctx: ProcessContext = {
    db: loop.db,
    config,
    owner: loop.owner,
    opts: loop.opts,
    stores: loop.thread.stores,
    landLock: loop.landLock,
  };
  // A repository whose policy sets a pipeline lands a branch's entries as a lane
  // (pipeline.ts); an entry taken out of lanes (store.ts failMove) lands alone.
  const pipeline = pipelineFor(ctx.config, entry.repo);
  const laned = pipeline && entry.pipelined && !loop.opts.dryRun;
  // The entry's lines carry its ids, and its span continues its request's trace (a lane's
  // span, that of the entry that leads it).
  const of = await requestOfChange(loop.db, entry.changeRequestId);
  await withLogContext(
    { entryId: entry.id, taskId: of.taskId ?? undefined, requestId: of.requestId ?? undefined },
    () =>
      withSpan(
        laned ? "queue.lane" : "queue.entry",
        { "hyperion.entry": entry.id, "hyperion.repo": entry.repo },
        () => (laned && pipeline ? runPipeline(ctx, entry, pipeline) : processEntry(ctx, entry)),
        of.traceParent,
      ),
  );
}
