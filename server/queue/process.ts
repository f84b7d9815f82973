import { and, count, desc, eq, sql } from "drizzle-orm";
import type { EntryError, EntryState } from "@/schemas/queue";
import { approvalGate } from "@/server/approvals/service";
import { runChecks } from "@/server/checks/checks";
import type { LoadedConfig } from "@/server/config/load";
import type { Db } from "@/server/db/client";
import { changeQueueLogs } from "@/server/db/schema";
import { ApplyConflict } from "@/server/git/apply";
import { InvalidTreeEntryError, MissingObjectError, ObjectStore } from "@/server/git/objects";
import { PatchParseError } from "@/server/git/patch";
import { casRefFs, RefLockedError, RefMovedError, readRefFs } from "@/server/git/refs-fs";
import { policyFor } from "@/server/planner/plan";
import {
  buildCandidate,
  type Candidate,
  type CandidateCache,
  catchUpWorktree,
  checkedOutTree,
  findLanded,
  markWorktreeStale,
  prepareCandidate,
  staleWorktreeWarning,
  syncWorktree,
  worktreeIsClean,
} from "./land";
import { LandLock } from "./land-lock";
import { markRolledBack } from "./rollback";
import {
  type Entry,
  failEntry,
  getChange,
  heartbeatEntry,
  type QueueOptions,
  StaleLeaseError,
  transition,
} from "./store";

export type ProcessContext = {
  db: Db;
  config: LoadedConfig;
  owner: string;
  opts: QueueOptions & { checkTimeoutMs: number; dryRun: boolean };
  stores: Map<string, ObjectStore>;
  landLock?: LandLock;
};

const MAX_TIP_RACES = 25;

async function storeFor(ctx: ProcessContext, repoPath: string): Promise<ObjectStore> {
  let store = ctx.stores.get(repoPath);
  if (!store) {
    store = await ObjectStore.open(repoPath);
    ctx.stores.set(repoPath, store);
  }
  return store;
}

/** How many trees a change to these paths rewrites: each directory on the way, and the root. */
function treesTouched(paths: Iterable<string>): number {
  const dirs = new Set<string>([""]);
  for (const p of paths) {
    const parts = p.split("/");
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  return dirs.size;
}

/** Whether an entry has been claimed before this claim, i.e. may have landed already. */
function claimedBefore(db: Db, entryId: number): boolean {
  const n =
    db
      .select({ n: count() })
      .from(changeQueueLogs)
      .where(
        and(
          eq(changeQueueLogs.entryId, entryId),
          sql`json_extract(${changeQueueLogs.event}, '$.to') = 'applying'`,
        ),
      )
      .get()?.n ?? 0;
  return n > 1;
}

/**
 * When the entry was last approved out of `awaiting_approval`, the tip its checks had passed on
 * before it waited; null if it never waited (or had no checks).
 */
function approvedCheckedOn(db: Db, entryId: number): string | null {
  const row = db
    .select({ event: changeQueueLogs.event })
    .from(changeQueueLogs)
    .where(
      and(
        eq(changeQueueLogs.entryId, entryId),
        sql`json_extract(${changeQueueLogs.event}, '$.to') = 'awaiting_approval'`,
      ),
    )
    .orderBy(desc(changeQueueLogs.id))
    .limit(1)
    .get();
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
  let state = "applying" as EntryState;
  const started = Date.now();
  const lock = ctx.landLock ?? new LandLock();
  const beat = setInterval(
    () => {
      if (!heartbeatEntry(ctx.db, entry, ctx.owner, ctx.opts)) clearInterval(beat);
    },
    Math.max(50, Math.floor(ctx.opts.leaseMs / 3)),
  );
  const move = (
    to: EntryState,
    extra: {
      error?: EntryError;
      mergedCommit?: string;
      warning?: string;
      checkedOn?: string;
      note?: string;
    } = {},
  ) => {
    transition(ctx.db, entry, {
      from: state,
      to,
      owner: ctx.owner,
      durationMs: Date.now() - started,
      ...extra,
    });
    state = to;
  };
  const fail = (error: EntryError) => {
    state = failEntry(ctx.db, entry, state, ctx.owner, error, ctx.opts);
    return state;
  };
  try {
    const change = getChange(ctx.db, entry.changeRequestId);
    const repo = ctx.config.repositories.find((r) => r.name === entry.repo);
    if (!change || !repo) {
      return fail({
        kind: "internal",
        message: `repository '${entry.repo}' is no longer configured`,
        paths: [],
      });
    }
    const store = await storeFor(ctx, repo.path);
    const branchRef = `refs/heads/${entry.targetBranch}`;
    const dryRun = ctx.opts.dryRun || change.dryRun;
    const trailers = change.revertOf ? [`Hyperion-Reverts: ${change.revertOf}`] : [];
    const landedDone = (commit: string, warning?: string) => {
      ctx.db.transaction(() => {
        if (state !== "ready") move("ready");
        move("merged", { mergedCommit: commit, warning });
        if (change.revertOf) markRolledBack(ctx.db, change.revertOf, ctx.owner);
      });
      return state;
    };

    /**
     * Its risk's tier wants approvals it does not have: it waits, unleased, for a reviewer
     * (approvals/service.ts moves it back to the queue). The tip its checks passed on is kept.
     */
    const waitForApproval = (tip: string | null): boolean => {
      const gate = approvalGate(ctx.db, policy, change, entry.id);
      if (gate.satisfied) return false;
      move("awaiting_approval", {
        ...(tip && change.checks.length > 0 ? { checkedOn: tip } : {}),
        note: `${change.risk} risk: waiting for ${gate.needed - gate.have} more approval${gate.needed - gate.have === 1 ? "" : "s"}${gate.tier.requireDiff ? " from a reviewer who opened the whole diff" : ""}`,
      });
      return true;
    };

    // Claimed before: a worker may have landed it and died before recording it.
    if (!dryRun && claimedBefore(ctx.db, entry.id)) {
      const landed = await findLanded(
        store,
        readRefFs(store.gitDir, branchRef),
        change.id,
        entry.createdAt,
      );
      if (landed) return landedDone(landed);
    }

    const policy = policyFor(ctx.config, entry.repo);
    // Approved after waiting: the tip its checks passed on then, which need not be re-checked.
    const approvedOn = approvedCheckedOn(ctx.db, entry.id);
    const cache: CandidateCache = {};
    for (let race = 0; race < MAX_TIP_RACES; race++) {
      let checked: Candidate | null = null;
      if (change.checks.length > 0) {
        const tip = readRefFs(store.gitDir, branchRef);
        const candidate = await buildOrFail(() =>
          buildCandidate(store, change, tip, trailers, cache),
        );
        if ("error" in candidate)
          return candidate.error === "quarantine" ? state : fail(candidate.failure);
        const unmoved = approvedOn !== null && approvedOn === tip;
        if (state !== "checking" && !unmoved) move("checking");
        const result = unmoved
          ? { ok: true as const }
          : await runChecks({
              gitDir: store.gitDir,
              commit: candidate.commit,
              policy,
              checks: change.checks,
              timeoutMs: ctx.opts.checkTimeoutMs,
            });
        if (!result.ok) {
          move("quarantined", {
            error: {
              kind: result.timedOut ? "check_timeout" : "check_failed",
              message: result.reason,
              paths: [],
              outputTail: result.outputTail,
            },
          });
          return state;
        }
        move("ready");
        checked = { ...candidate, via: candidate.via };
        if (waitForApproval(tip)) return state;
        if (dryRun) return landedDone(candidate.commit);
      } else {
        const tip = readRefFs(store.gitDir, branchRef);
        await prepareCandidate(store, change, tip, cache);
        if (waitForApproval(tip)) return state;
        // The trees along the touched paths and the commit: their files made before the lock.
        store.reserve(treesTouched(cache.prepared?.changes.keys() ?? []) + 1);
      }

      const worktree = dryRun ? null : checkedOutTree(store, entry.targetBranch);
      // A worktree left stale by a failed update is the operator's now: no check, no sync.
      const stale = worktree ? await staleWorktreeWarning(store, worktree) : undefined;
      if (
        worktree &&
        !stale &&
        !(await worktreeIsClean(worktree)) &&
        !(await catchUpWorktree(store, worktree, readRefFs(store.gitDir, branchRef) ?? "").catch(
          () => false,
        ))
      ) {
        return fail({
          kind: "worktree_dirty",
          message: `${entry.targetBranch} is checked out in ${worktree} with uncommitted changes; commit or stash them`,
          paths: [],
        });
      }

      lock.acquire();
      let landedCommit: string | null = null;
      let tipBefore: string | null = null;
      let failure: EntryError | "quarantine" | null = null;
      try {
        tipBefore = readRefFs(store.gitDir, branchRef);
        // Checked candidates land only on the tip they were checked on.
        const candidate = checked
          ? checked
          : await buildOrFail(() => buildCandidate(store, change, tipBefore, trailers, cache));
        if ("error" in candidate)
          failure = candidate.error === "quarantine" ? "quarantine" : candidate.failure;
        else if (dryRun) landedCommit = candidate.commit;
        else if (!checked || (await store.commitParent(candidate.commit)) === tipBefore) {
          try {
            casRefFs(store.gitDir, branchRef, candidate.commit, tipBefore);
            landedCommit = candidate.commit;
          } catch (err) {
            // Another writer's lock is no race and no conflict: wait, without spending an attempt.
            if (err instanceof RefLockedError)
              failure = { kind: "ref_locked", message: err.message, paths: [] };
            else if (!(err instanceof RefMovedError)) throw err;
          }
        }
      } finally {
        lock.release();
      }
      if (failure === "quarantine") return state;
      if (failure) return fail(failure);
      if (landedCommit) {
        const commit = landedCommit;
        const warning =
          worktree && tipBefore && !stale
            ? await syncWorktree(worktree, tipBefore, commit).then(
                () => undefined,
                (err: unknown) => markWorktreeStale(store, worktree, commit, err),
              )
            : stale;
        return landedDone(commit, warning);
      }
      // The tip moved under us: rebuild (and re-check) on the new tip.
      if (state === "ready") move("applying");
    }
    return fail({
      kind: "conflict",
      message: "the target branch kept moving; will retry",
      paths: [],
    });
  } catch (err) {
    if (err instanceof StaleLeaseError) return "lost";
    try {
      return fail({ kind: "internal", message: (err as Error).message, paths: [] });
    } catch (inner) {
      if (inner instanceof StaleLeaseError) return "lost";
      throw inner;
    }
  } finally {
    clearInterval(beat);
  }

  /** Builds a candidate, turning a conflict into a failure and a broken patch into quarantine. */
  async function buildOrFail(
    build: () => Promise<Candidate>,
  ): Promise<Candidate | { error: "fail"; failure: EntryError } | { error: "quarantine" }> {
    try {
      return await build();
    } catch (err) {
      if (err instanceof ApplyConflict)
        return {
          error: "fail",
          failure: { kind: "conflict", message: err.message, paths: err.paths },
        };
      // Failures the same change meets on every attempt: quarantined, not retried as internal.
      if (
        err instanceof PatchParseError ||
        err instanceof MissingObjectError ||
        err instanceof InvalidTreeEntryError
      ) {
        move("quarantined", { error: { kind: "apply_failed", message: err.message, paths: [] } });
        return { error: "quarantine" };
      }
      throw err;
    }
  }
}
