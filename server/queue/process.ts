import type { EntryError, EntryState } from "@/schemas/queue";
import type { LoadedConfig } from "@/server/config/load";
import type { Db } from "@/server/db/client";
import { ApplyConflict } from "@/server/git/apply";
import { MissingObjectError, ObjectStore } from "@/server/git/objects";
import { PatchParseError } from "@/server/git/patch";
import { isAncestor, RefMovedError } from "@/server/git/refs";
import { casRefFs, readRefFs, writeRefFs } from "@/server/git/refs-fs";
import { changeRef } from "./commit";
import { buildCandidate, checkedOutTree, runChecks, syncWorktree, worktreeIsClean } from "./land";
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

/**
 * Carries one claimed entry to its end: merged, waiting for a retry, or quarantined. Every
 * state change is a checked transition; losing the lease (StaleLeaseError) drops the entry
 * silently, because another worker now owns it.
 */
export async function processEntry(
  ctx: ProcessContext,
  claimed: Entry,
): Promise<EntryState | "lost"> {
  const entry = claimed;
  let state: EntryState = "applying";
  const started = Date.now();
  const beat = setInterval(
    () => {
      if (!heartbeatEntry(ctx.db, entry, ctx.owner, ctx.opts)) clearInterval(beat);
    },
    Math.max(50, Math.floor(ctx.opts.leaseMs / 3)),
  );
  const move = (
    to: EntryState,
    extra: Parameters<typeof transition>[2] extends infer M ? Partial<M> : never = {},
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

    // A re-run after a crash. The change's ref is written just before the branch moves, so it
    // counts as landed only if the branch contains it; otherwise it is overwritten below.
    const hinted = dryRun ? null : readRefFs(store.gitDir, changeRef(change.id));
    const landed = hinted && (await isAncestor(repo.path, hinted, branchRef)) ? hinted : null;
    if (landed) {
      move("merged", { mergedCommit: landed });
      if (change.revertOf) markRolledBack(ctx.db, change.revertOf, ctx.owner);
      return state;
    }

    for (let race = 0; race < MAX_TIP_RACES; race++) {
      const tip = readRefFs(store.gitDir, branchRef);
      let candidate: Awaited<ReturnType<typeof buildCandidate>>;
      try {
        const trailers = change.revertOf ? [`Hyperion-Reverts: ${change.revertOf}`] : [];
        candidate = await buildCandidate(store, change, tip, trailers);
      } catch (err) {
        if (err instanceof ApplyConflict)
          return fail({ kind: "conflict", message: err.message, paths: err.paths });
        if (err instanceof PatchParseError || err instanceof MissingObjectError) {
          move("quarantined", { error: { kind: "apply_failed", message: err.message, paths: [] } });
          return state;
        }
        throw err;
      }
      if (change.checks.length > 0) {
        move("checking");
        const result = await runChecks(
          repo.path,
          candidate.commit,
          change.checks,
          ctx.opts.checkTimeoutMs,
        );
        if (!result.ok) {
          move("quarantined", {
            error: {
              kind: result.timedOut ? "check_timeout" : "check_failed",
              message: `check failed: ${result.command}${result.timedOut ? " (timed out)" : ""}`,
              paths: [],
              outputTail: result.outputTail,
            },
          });
          return state;
        }
      }
      move("ready");
      if (dryRun) {
        move("merged", { mergedCommit: candidate.commit });
        return state;
      }
      const worktree = checkedOutTree(store, entry.targetBranch);
      if (worktree && !(await worktreeIsClean(worktree))) {
        return fail({
          kind: "worktree_dirty",
          message: `${entry.targetBranch} is checked out in ${worktree} with uncommitted changes; commit or stash them`,
          paths: [],
        });
      }
      try {
        writeRefFs(store.gitDir, changeRef(change.id), candidate.commit);
        casRefFs(store.gitDir, branchRef, candidate.commit, tip);
      } catch (err) {
        if (err instanceof RefMovedError) {
          move("applying");
          continue;
        }
        throw err;
      }
      if (worktree && tip)
        await syncWorktree(worktree, tip, candidate.commit).catch(() => undefined);
      move("merged", { mergedCommit: candidate.commit });
      if (change.revertOf) markRolledBack(ctx.db, change.revertOf, ctx.owner);
      return state;
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
}
