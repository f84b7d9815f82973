import { and, eq, inArray, isNull, type SQL, sql } from "drizzle-orm";
import type { SQLiteUpdateSetSource } from "drizzle-orm/sqlite-core";
import type { QaPriority } from "@/schemas/qa";
import type { EntryError, EntryState } from "@/schemas/queue";
import type { Db, DbLike } from "@/server/db/client";
import {
  changeQueueLogs,
  type QueueLogEvent,
  queueEntries,
  queueEntryPaths,
} from "@/server/db/schema";
import type { PipelinePlace, PullRequestRef } from "@/server/db/schema/queue";
import { carryAlong, type TaskOutcome } from "./carry";
import { getEntry } from "./entries";
import {
  backoffMs,
  type Entry,
  EntryStateError,
  type QueueOptions,
  StaleLeaseError,
} from "./options";
import { attemptFreeErrors, entryMachine, IllegalTransitionError, leasedStates } from "./states";

// The entry's types, options and errors, and its reads, live in rooms of their own; many
// modules import them from here.
export * from "./entries";
export * from "./options";
export type { TaskOutcome };
export { IllegalTransitionError };

export async function logTransition(
  db: DbLike,
  event: QueueLogEvent,
  at = Date.now(),
): Promise<void> {
  await db.insert(changeQueueLogs).values({ entryId: event.entryId, event, at });
}

/**
 * Queues a change: its entry in `queued`, the paths it touches and its first log row, in the
 * caller's transaction. Returns the entry's id.
 */
export async function enqueue(
  tx: DbLike,
  e: Pick<Entry, "changeRequestId" | "repo" | "targetBranch" | "maxAttempts"> & {
    paths: readonly string[];
    /** Landed through its repository's speculative pipeline: one lane a branch claims it. */
    pipelined?: boolean;
    /** Its lane ("" the branch's one lane; an area's name; "*" across areas). */
    lane?: string;
  },
  now = Date.now(),
): Promise<number> {
  const [entry] = await tx
    .insert(queueEntries)
    .values({
      changeRequestId: e.changeRequestId,
      repo: e.repo,
      targetBranch: e.targetBranch,
      state: "queued",
      attempts: 0,
      maxAttempts: e.maxAttempts,
      pipelined: e.pipelined ?? false,
      lane: e.lane ?? "",
      nextAttemptAt: now,
      createdAt: now,
      updatedAt: now,
    })
    .returning({ id: queueEntries.id });
  if (!entry) throw new Error("the queue entry was not stored");
  if (e.paths.length)
    await tx
      .insert(queueEntryPaths)
      .values(e.paths.map((path) => ({ entryId: entry.id, repo: e.repo, path })));
  await logTransition(
    tx,
    { entryId: entry.id, from: null, to: "queued", worker: null, attempt: 0 },
    now,
  );
  return entry.id;
}

/** Copies entries as they are into another database (`hyperion replay`'s fresh one): not a move. */
export async function copyEntries(tx: DbLike, rows: readonly Entry[]): Promise<void> {
  for (const row of rows) await tx.insert(queueEntries).values(row);
}

type MoveDetails = {
  task?: TaskOutcome;
  error?: EntryError;
  mergedCommit?: string;
  nextAttemptAt?: number;
  durationMs?: number;
  warning?: string;
  checkedOn?: string;
  note?: string;
  /** Land "pull-request": the pull request it went out in (→ in_review). */
  pullRequest?: PullRequestRef;
};

/**
 * Writes one move through `entryMachine.move`: checks it against the state table,
 * compare-and-swaps the row on its expected state and the caller's guard, and appends the log
 * row in the same transaction — with what follows from it for the entry's task and request
 * (`carryAlong`). Nothing is written when the guard refuses.
 */
async function writeMove(
  db: Db,
  entryId: number,
  move: MoveDetails & { from: EntryState; to: EntryState; worker: string },
  guard: SQL[],
  refused: () => Error | Promise<Error>,
  now: number,
  set: SQLiteUpdateSetSource<typeof queueEntries> = {},
): Promise<Entry> {
  return entryMachine.move(db, {
    from: move.from,
    to: move.to,
    subject: `entry ${entryId}`,
    swap: async (tx) =>
      (
        await tx
          .update(queueEntries)
          .set({
            state: move.to,
            updatedAt: now,
            ...(leasedStates.includes(move.to)
              ? { heartbeatAt: now }
              : { leaseOwner: null, leaseExpiresAt: null }),
            ...(move.error ? { lastError: move.error } : {}),
            ...(move.mergedCommit ? { mergedCommit: move.mergedCommit } : {}),
            ...(move.pullRequest ? { pullRequest: move.pullRequest } : {}),
            ...(move.nextAttemptAt !== undefined ? { nextAttemptAt: move.nextAttemptAt } : {}),
            ...(["merged", "quarantined", "rejected"].includes(move.to) ? { finishedAt: now } : {}),
            ...set,
          })
          .where(and(eq(queueEntries.id, entryId), eq(queueEntries.state, move.from), ...guard))
          .returning()
      )[0],
    refused,
    record: async (tx, row) => {
      await logTransition(
        tx,
        {
          entryId,
          from: move.from,
          to: move.to,
          worker: move.worker,
          attempt: row.attempts,
          ...(move.durationMs !== undefined ? { durationMs: move.durationMs } : {}),
          ...(move.error ? { error: move.error } : {}),
          ...(move.mergedCommit ? { mergedCommit: move.mergedCommit } : {}),
          ...(move.nextAttemptAt !== undefined ? { nextAttemptAt: move.nextAttemptAt } : {}),
          ...(move.warning ? { warning: move.warning } : {}),
          ...(move.checkedOn ? { checkedOn: move.checkedOn } : {}),
          ...(move.note ? { note: move.note } : {}),
        },
        now,
      );
      await carryAlong(tx, row, move.from, move.to, move.task, {
        by: move.worker,
        note: move.note,
      });
    },
  });
}

export const heldBy = (entry: Pick<Entry, "attempts">, owner: string): SQL[] => [
  eq(queueEntries.leaseOwner, owner),
  eq(queueEntries.attempts, entry.attempts),
];

/**
 * The one way a leased entry changes state: checks the move against the state table and that
 * this worker still holds the lease for this attempt, then writes the entry and its log row in
 * one transaction. A stale worker gets StaleLeaseError and must drop the entry.
 */
export async function transition(
  db: Db,
  entry: Pick<Entry, "id" | "attempts">,
  move: MoveDetails & { from: EntryState; to: EntryState; owner: string },
  now = Date.now(),
): Promise<void> {
  await writeMove(
    db,
    entry.id,
    { ...move, worker: move.owner },
    heldBy(entry, move.owner),
    () => new StaleLeaseError(`entry ${entry.id}: lease lost before ${move.from} → ${move.to}`),
    now,
  );
}

/**
 * A just-claimed entry given back untouched (applying → queued) with its attempt returned: a
 * speculative pipeline's lane for its branch is held by another thread, which takes it in.
 */
export async function handBack(
  db: Db,
  entry: Entry,
  owner: string,
  note: string,
  now = Date.now(),
) {
  await writeMove(
    db,
    entry.id,
    { from: "applying", to: "queued", worker: owner, note },
    heldBy(entry, owner),
    () => new StaleLeaseError(`entry ${entry.id}: lease lost before it was given back`),
    now,
    { attempts: Math.max(0, entry.attempts - 1), nextAttemptAt: now },
  );
}

/**
 * The sibling of `transition` for entries no worker leases: an operator's retry
 * (quarantined → queued, with fresh attempts) and a rollback's marking (merged → rolled_back).
 * Compare-and-swaps on the expected state and on there being no lease.
 */
export async function moveUnleased(
  db: DbLike,
  entryId: number,
  move: {
    from: EntryState;
    to: EntryState;
    by: string;
    error?: EntryError;
    note?: string;
    task?: TaskOutcome;
    mergedCommit?: string;
  },
  now = Date.now(),
): Promise<Entry> {
  if (leasedStates.includes(move.from) || leasedStates.includes(move.to)) {
    throw new IllegalTransitionError(
      `entry ${entryId}: ${move.from} → ${move.to} is a leased move; it needs transition()`,
    );
  }
  return writeMove(
    db,
    entryId,
    {
      from: move.from,
      to: move.to,
      worker: move.by,
      ...(move.error ? { error: move.error } : {}),
      ...(move.note ? { note: move.note } : {}),
      ...(move.task ? { task: move.task } : {}),
      ...(move.mergedCommit ? { mergedCommit: move.mergedCommit } : {}),
    },
    [isNull(queueEntries.leaseOwner)],
    async () => new EntryStateError(entryId, move.from, (await getEntry(db, entryId))?.state),
    now,
    move.to === "queued" ? { attempts: 0, nextAttemptAt: now, finishedAt: null } : {},
  );
}

/** Extends a lease; false when the lease is no longer ours. */
export async function heartbeatEntry(
  db: Db,
  entry: Pick<Entry, "id" | "attempts">,
  owner: string,
  opts: QueueOptions,
  now = Date.now(),
): Promise<boolean> {
  const res = await db
    .update(queueEntries)
    .set({ heartbeatAt: now, leaseExpiresAt: now + opts.leaseMs })
    .where(
      and(
        eq(queueEntries.id, entry.id),
        inArray(queueEntries.state, [...leasedStates]),
        ...heldBy(entry, owner),
      ),
    )
    .returning({ one: sql`1` });
  return res.length === 1;
}

export async function failMove(
  db: Db,
  entry: Entry,
  from: EntryState,
  owner: string,
  error: EntryError,
  opts: QueueOptions,
  guard: SQL[],
  now: number,
): Promise<EntryState> {
  const giveBack = attemptFreeErrors.includes(error.kind);
  const maxAttempts = entry.maxAttempts + (giveBack ? 1 : 0);
  // A lane that crashed charged an attempt to every entry it held, though at most one of them
  // could be to blame: one whose attempts went that way is not quarantined but tried once more,
  // alone (out of the pipeline), where a crash is its own.
  const alone = entry.inLane && error.kind === "lease_expired" && entry.attempts >= maxAttempts;
  const to: EntryState = entry.attempts >= maxAttempts && !alone ? "quarantined" : "retry_wait";
  await writeMove(
    db,
    entry.id,
    {
      from,
      to,
      worker: owner,
      error: alone
        ? {
            ...error,
            message: `${error.message}; its attempts went in lanes that crashed, so it is tried once more alone`,
          }
        : error,
      ...(to === "retry_wait" ? { nextAttemptAt: now + backoffMs(entry.attempts, opts) } : {}),
    },
    guard,
    () => new StaleLeaseError(`entry ${entry.id}: lease lost before ${from} → ${to}`),
    now,
    // The attempt counter stays monotonic (it fences stale workers); the allowance grows instead.
    giveBack
      ? { maxAttempts: sql`${queueEntries.maxAttempts} + 1` }
      : alone
        ? { maxAttempts: entry.attempts + 1, pipelined: false, inLane: false }
        : {},
  );
  return to;
}

/**
 * After a failure: wait and retry, or quarantine once the attempts are used up. A failure
 * that is no fault of the change (states.ts `attemptFreeErrors`) gives its attempt back.
 */
export async function failEntry(
  db: Db,
  entry: Entry,
  from: EntryState,
  owner: string,
  error: EntryError,
  opts: QueueOptions,
  now = Date.now(),
): Promise<EntryState> {
  return failMove(db, entry, from, owner, error, opts, heldBy(entry, owner), now);
}

/**
 * Where a pipeline's round put these entries (for /queue): not a move — the state stays — and
 * only while this owner holds them.
 */
export async function notePipeline(
  db: Db,
  entryIds: number[],
  owner: string,
  place: PipelinePlace,
): Promise<void> {
  if (entryIds.length === 0) return;
  await db
    .update(queueEntries)
    .set({ pipeline: place })
    .where(and(inArray(queueEntries.id, entryIds), eq(queueEntries.leaseOwner, owner)));
}

/**
 * An operator's QA priority for entries waiting for QA (server/qa): not a move — the state
 * stays — and only while they still wait in `qa_required`.
 */
export async function setQaPriority(
  tx: DbLike,
  entryIds: number[],
  priority: QaPriority,
): Promise<void> {
  if (entryIds.length === 0) return;
  await tx
    .update(queueEntries)
    .set({ qaPriority: priority })
    .where(and(inArray(queueEntries.id, entryIds), eq(queueEntries.state, "qa_required")));
}

/**
 * Marks one entry's QA wait escalated, once: only while it still waits in `qa_required`, was
 * not escalated before, and has waited since before `waitedSince`. True when this call marked it.
 */
export async function markQaEscalated(
  tx: DbLike,
  entryId: number,
  now: number,
  waitedSince: number,
): Promise<boolean> {
  const rows = await tx
    .update(queueEntries)
    .set({ qaEscalatedAt: now })
    .where(
      and(
        eq(queueEntries.id, entryId),
        eq(queueEntries.state, "qa_required"),
        isNull(queueEntries.qaEscalatedAt),
        sql`${queueEntries.updatedAt} < ${waitedSince}`,
      ),
    )
    .returning({ id: queueEntries.id });
  return rows.length > 0;
}
