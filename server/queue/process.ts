import { and, count, desc, eq, sql } from "drizzle-orm";
import type { EntryState } from "@/schemas/queue";
import type { LoadedConfig } from "@/server/config/load";
import { policyFor } from "@/server/config/policy";
import type { Db } from "@/server/db/client";
import { changeQueueLogs } from "@/server/db/schema";
import { jsonText } from "@/server/db/sql";
import { ObjectStore } from "@/server/git/objects";
import { readRefFs } from "@/server/git/refs-fs";
import {
  type Entry,
  getChange,
  heartbeatEntry,
  type QueueOptions,
  StaleLeaseError,
} from "../state/queue/store";
import { findLanded } from "./land";
import { LandLock } from "./land-lock";
import { type Landing, landedDone, landOnTip, Moves } from "./land-on-tip";
import { readyMirror } from "./move-branch";

export type ProcessContext = {
  db: Db;
  config: LoadedConfig;
  owner: string;
  opts: QueueOptions & { checkTimeoutMs: number; dryRun: boolean };
  stores: Map<string, ObjectStore>;
  landLock?: LandLock;
};

const MAX_TIP_RACES = 25;

export async function storeFor(ctx: ProcessContext, repoPath: string): Promise<ObjectStore> {
  let store = ctx.stores.get(repoPath);
  if (!store) {
    store = await ObjectStore.open(repoPath);
    ctx.stores.set(repoPath, store);
  }
  return store;
}

/** Whether an entry has been claimed before this claim, i.e. may have landed already. */
export async function claimedBefore(db: Db, entryId: number): Promise<boolean> {
  const n =
    (
      await db
        .select({ n: count() })
        .from(changeQueueLogs)
        .where(
          and(
            eq(changeQueueLogs.entryId, entryId),
            sql`${jsonText(changeQueueLogs.event, "to")} = 'applying'`,
          ),
        )
        .limit(1)
    )[0]?.n ?? 0;
  return n > 1;
}

/**
 * When the entry was last approved out of `awaiting_approval` (or passed out of `qa_required`),
 * the tip its checks had passed on before it waited; null if it never waited (or had no checks).
 */
async function approvedCheckedOn(db: Db, entryId: number): Promise<string | null> {
  const [row] = await db
    .select({ event: changeQueueLogs.event })
    .from(changeQueueLogs)
    .where(
      and(
        eq(changeQueueLogs.entryId, entryId),
        sql`${jsonText(changeQueueLogs.event, "to")} IN ('awaiting_approval', 'qa_required')`,
      ),
    )
    .orderBy(desc(changeQueueLogs.id))
    .limit(1);
  return row?.event.checkedOn ?? null;
}

/**
 * Carries one claimed entry to its end: merged, waiting for a retry, or quarantined. Every
 * state change is a checked transition; losing the lease (StaleLeaseError) drops the entry
 * silently, because another worker now owns it.
 *
 * The patch is applied against the current tip outside the landing lock; under the lock the
 * prepared changes are laid onto the tip's tree, the commit written and the branch moved.
 */
export async function processEntry(
  ctx: ProcessContext,
  claimed: Entry,
): Promise<EntryState | "lost"> {
  const entry = claimed;
  const moves = new Moves(ctx, entry);
  const lock = ctx.landLock ?? new LandLock();
  const beat = setInterval(
    async () => {
      if (!(await heartbeatEntry(ctx.db, entry, ctx.owner, ctx.opts))) clearInterval(beat);
    },
    Math.max(50, Math.floor(ctx.opts.leaseMs / 3)),
  );
  try {
    const change = await getChange(ctx.db, entry.changeRequestId);
    const repo = ctx.config.repositories.find((r) => r.name === entry.repo);
    if (!change || !repo) {
      return moves.fail({
        kind: "internal",
        message: `repository '${entry.repo}' is no longer configured`,
        paths: [],
      });
    }
    const before = await claimedBefore(ctx.db, entry.id);
    const unready = await readyMirror(ctx.db, repo, before);
    if (unready) return moves.fail(unready);
    const l: Landing = {
      ctx,
      entry,
      change,
      moves,
      store: await storeFor(ctx, repo.path),
      repo,
      config: ctx.config,
      policy: policyFor(ctx.config, entry.repo),
      branchRef: `refs/heads/${entry.targetBranch}`,
      dryRun: ctx.opts.dryRun || change.dryRun,
      trailers: change.revertOf ? [`Hyperion-Reverts: ${change.revertOf}`] : [],
      cache: {},
    };

    // Claimed before: a worker may have landed it and died before recording it.
    if (!l.dryRun && before) {
      const landed = await findLanded(
        l.store,
        readRefFs(l.store.gitDir, l.branchRef),
        change.id,
        entry.createdAt,
      );
      if (landed) return landedDone(l, landed);
    }

    // Approved after waiting: the tip its checks passed on then, which need not be re-checked.
    const approvedOn = await approvedCheckedOn(ctx.db, entry.id);
    for (let race = 0; race < MAX_TIP_RACES; race++) {
      const ended = await landOnTip(l, approvedOn, lock);
      if (ended !== null) return ended;
      // The tip moved under us: rebuild (and re-check) on the new tip.
      if (moves.state === "ready") await moves.to("applying");
    }
    return moves.fail({
      kind: "conflict",
      message: "the target branch kept moving; will retry",
      paths: [],
    });
  } catch (err) {
    if (err instanceof StaleLeaseError) return "lost";
    try {
      return moves.fail({ kind: "internal", message: (err as Error).message, paths: [] });
    } catch (inner) {
      if (inner instanceof StaleLeaseError) return "lost";
      throw inner;
    }
  } finally {
    clearInterval(beat);
  }
}
