import { and, eq, ne } from "drizzle-orm";
import type { LoadedConfig } from "@/server/config/load";
import type { Db, DbLike, Tx } from "@/server/db/client";
import { changeRequests, queueEntries } from "@/server/db/schema";
import { NotFoundError, ValidationError } from "@/server/errors";
import { Repo } from "@/server/git/repo";
import { log } from "@/server/log";
import { EntryStateError, getChange, getEntry, moveUnleased } from "../state/queue/store";
import { COMMITTER } from "./commit";
import { type Submitted, submitChanges } from "./submit";

/**
 * Rolls back a merged entry by landing its revert through the queue as a change request of its
 * own, linked to the original. The revert patch is `git diff` from the merged commit to its
 * parent — computed from objects, no working tree — and based on the merged commit, so the
 * queue rebases it onto whatever landed since. `within` runs in the transaction that queues it
 * (post-merge verification records its verdict there): if it throws, nothing is queued.
 */
export async function rollbackEntry(
  db: Db,
  config: LoadedConfig,
  entryId: number,
  opts: { within?: (tx: Tx, submitted: Submitted[]) => void } = {},
) {
  const entry = await getEntry(db, entryId);
  if (!entry) throw new NotFoundError(`no queue entry ${entryId}`);
  if (entry.state !== "merged" || !entry.mergedCommit) {
    throw new ValidationError([
      {
        path: "id",
        message: `entry ${entryId} is ${entry.state}; only a merged entry can be rolled back`,
      },
    ]);
  }
  const change = await getChange(db, entry.changeRequestId);
  const repo = config.repositories.find((r) => r.name === entry.repo);
  if (!change || !repo) throw new NotFoundError(`repository '${entry.repo}' is not configured`);
  if (change.dryRun)
    throw new ValidationError([{ path: "id", message: "a dry-run change never landed" }]);
  // Asked twice (two operators, a double click): one revert is on its way already.
  const [pending] = await db
    .select({ entryId: queueEntries.id, state: queueEntries.state })
    .from(changeRequests)
    .innerJoin(queueEntries, eq(queueEntries.changeRequestId, changeRequests.id))
    .where(and(eq(changeRequests.revertOf, change.id), ne(queueEntries.state, "rejected")))
    .limit(1);
  if (pending)
    throw new ValidationError([
      {
        path: "id",
        message: `entry ${entryId} is being rolled back already: its revert is Q${pending.entryId} (${pending.state.replaceAll("_", " ")})`,
      },
    ]);
  const patch = await Repo.at(repo.path).binaryDiff(entry.mergedCommit, `${entry.mergedCommit}^`);
  if (!patch.trim())
    throw new ValidationError([{ path: "id", message: "the change is empty; nothing to revert" }]);
  const [submitted] = await submitChanges(
    db,
    {
      taskId: change.taskId,
      repo: change.repo,
      targetBranch: change.targetBranch,
      baseCommit: entry.mergedCommit,
      patch,
      summary: `Revert "${change.summary.split("\n")[0]}"`,
      author: COMMITTER,
      risk: change.risk,
    },
    config,
    { revertOf: change.id, ...(opts.within ? { within: opts.within } : {}) },
  );
  return submitted;
}

/**
 * When a revert lands, its original becomes rolled_back. An original no longer merged (already
 * rolled back by an earlier revert) stays as it is: the revert has landed either way.
 */
export async function markRolledBack(
  db: DbLike,
  originalChangeId: number,
  by: string,
): Promise<void> {
  const [original] = await db
    .select({ id: queueEntries.id })
    .from(queueEntries)
    .where(eq(queueEntries.changeRequestId, originalChangeId))
    .limit(1);
  if (!original) return;
  try {
    await moveUnleased(db, original.id, { from: "merged", to: "rolled_back", by });
  } catch (err) {
    if (!(err instanceof EntryStateError)) throw err;
    log.warn({ entryId: original.id, state: err.actual }, "reverted entry was not merged");
  }
}
