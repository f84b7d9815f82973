import { and, eq, inArray, lt, sql } from "drizzle-orm";
import type { EntryError, EntryState } from "@/schemas/queue";
import type { Db, DbLike } from "@/server/db/client";
import {
  changeQueueLogs,
  changeRequests,
  type QueueLogEvent,
  queueEntries,
} from "@/server/db/schema";
import { canMove, leasedStates, pendingStates } from "./states";

export type Entry = typeof queueEntries.$inferSelect;
export type ChangeRow = typeof changeRequests.$inferSelect;

export type QueueOptions = {
  leaseMs: number;
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
};

export const defaultQueueOptions: QueueOptions = {
  leaseMs: 30_000,
  maxAttempts: 5,
  backoffBaseMs: 1_000,
  backoffMaxMs: 60_000,
};

/** A worker's write was refused because its lease is gone: another worker owns the entry now. */
export class StaleLeaseError extends Error {
  override name = "StaleLeaseError";
}

export class IllegalTransitionError extends Error {
  override name = "IllegalTransitionError";
}

/** Exponential backoff with jitter: half fixed, half random, so retries do not stampede. */
export function backoffMs(attempt: number, opts: QueueOptions, random = Math.random): number {
  const base = Math.min(opts.backoffBaseMs * 2 ** Math.max(0, attempt - 1), opts.backoffMaxMs);
  return Math.round(base / 2 + (base / 2) * random());
}

export function logTransition(db: DbLike, event: QueueLogEvent, at = Date.now()): void {
  db.insert(changeQueueLogs).values({ entryId: event.entryId, event, at }).run();
}

/**
 * Claims the oldest runnable entry in one statement under BEGIN IMMEDIATE. Runnable: queued or
 * due for retry, and no earlier entry that touches one of its paths still pending — so entries
 * on a common path land in submission order while disjoint ones run in parallel.
 */
export function claimNext(
  db: Db,
  owner: string,
  opts: QueueOptions,
  now = Date.now(),
): Entry | undefined {
  const claim = db.$client.transaction(() => {
    const row = db.$client
      .prepare(
        `UPDATE queue_entries
            SET claimed_from = state, state = 'applying', lease_owner = @owner, lease_expires_at = @expires,
                heartbeat_at = @now, attempts = attempts + 1, updated_at = @now
          WHERE id = (
            SELECT e.id FROM queue_entries e
             WHERE e.state IN ('queued', 'retry_wait') AND e.next_attempt_at <= @now
               AND NOT EXISTS (
                 SELECT 1 FROM queue_entry_paths mine
                   JOIN queue_entry_paths theirs
                     ON theirs.repo = mine.repo AND theirs.path = mine.path AND theirs.entry_id < mine.entry_id
                   JOIN queue_entries other ON other.id = theirs.entry_id
                  WHERE mine.entry_id = e.id
                    AND other.state IN (${pendingStates.map((s) => `'${s}'`).join(", ")}))
             ORDER BY e.id LIMIT 1)
        RETURNING *`,
      )
      .get({ owner, expires: now + opts.leaseMs, now }) as Record<string, unknown> | undefined;
    if (!row) return undefined;
    const entry = rowToEntry(row);
    logTransition(
      db,
      {
        entryId: entry.id,
        from: entry.claimedFrom ?? "queued",
        to: "applying",
        worker: owner,
        attempt: entry.attempts,
      },
      now,
    );
    return entry;
  });
  return claim.immediate();
}

function rowToEntry(row: Record<string, unknown>): Entry {
  return {
    id: row.id as number,
    changeRequestId: row.change_request_id as number,
    repo: row.repo as string,
    targetBranch: row.target_branch as string,
    state: row.state as EntryState,
    claimedFrom: row.claimed_from as EntryState | null,
    attempts: row.attempts as number,
    maxAttempts: row.max_attempts as number,
    nextAttemptAt: row.next_attempt_at as number,
    leaseOwner: row.lease_owner as string | null,
    leaseExpiresAt: row.lease_expires_at as number | null,
    heartbeatAt: row.heartbeat_at as number | null,
    lastError: row.last_error ? (JSON.parse(row.last_error as string) as EntryError) : null,
    mergedCommit: row.merged_commit as string | null,
    createdAt: row.created_at as number,
    updatedAt: row.updated_at as number,
    finishedAt: row.finished_at as number | null,
  };
}

/**
 * The one way a leased entry changes state: checks the move against the state table and that
 * this worker still holds the lease for this attempt, then writes the entry and its log row in
 * one transaction. A stale worker gets StaleLeaseError and must drop the entry.
 */
export function transition(
  db: Db,
  entry: Pick<Entry, "id" | "attempts">,
  move: {
    from: EntryState;
    to: EntryState;
    owner: string;
    error?: EntryError;
    mergedCommit?: string;
    nextAttemptAt?: number;
    durationMs?: number;
    warning?: string;
  },
  now = Date.now(),
): void {
  if (!canMove(move.from, move.to)) {
    throw new IllegalTransitionError(`illegal queue transition ${move.from} → ${move.to}`);
  }
  const keepLease = leasedStates.includes(move.to);
  db.transaction((tx) => {
    const res = tx
      .update(queueEntries)
      .set({
        state: move.to,
        updatedAt: now,
        ...(keepLease ? { heartbeatAt: now } : { leaseOwner: null, leaseExpiresAt: null }),
        ...(move.error ? { lastError: move.error } : {}),
        ...(move.mergedCommit ? { mergedCommit: move.mergedCommit } : {}),
        ...(move.nextAttemptAt !== undefined ? { nextAttemptAt: move.nextAttemptAt } : {}),
        ...(["merged", "quarantined", "rejected"].includes(move.to) ? { finishedAt: now } : {}),
      })
      .where(
        and(
          eq(queueEntries.id, entry.id),
          eq(queueEntries.state, move.from),
          eq(queueEntries.leaseOwner, move.owner),
          eq(queueEntries.attempts, entry.attempts),
        ),
      )
      .run();
    if (res.changes !== 1) {
      throw new StaleLeaseError(`entry ${entry.id}: lease lost before ${move.from} → ${move.to}`);
    }
    logTransition(
      tx,
      {
        entryId: entry.id,
        from: move.from,
        to: move.to,
        worker: move.owner,
        attempt: entry.attempts,
        ...(move.durationMs !== undefined ? { durationMs: move.durationMs } : {}),
        ...(move.error ? { error: move.error } : {}),
        ...(move.mergedCommit ? { mergedCommit: move.mergedCommit } : {}),
        ...(move.nextAttemptAt !== undefined ? { nextAttemptAt: move.nextAttemptAt } : {}),
        ...(move.warning ? { warning: move.warning } : {}),
      },
      now,
    );
  });
}

/** Extends a lease; false when the lease is no longer ours. */
export function heartbeatEntry(
  db: Db,
  entry: Pick<Entry, "id" | "attempts">,
  owner: string,
  opts: QueueOptions,
  now = Date.now(),
): boolean {
  const res = db
    .update(queueEntries)
    .set({ heartbeatAt: now, leaseExpiresAt: now + opts.leaseMs })
    .where(
      and(
        eq(queueEntries.id, entry.id),
        eq(queueEntries.leaseOwner, owner),
        eq(queueEntries.attempts, entry.attempts),
        inArray(queueEntries.state, [...leasedStates]),
      ),
    )
    .run();
  return res.changes === 1;
}

/** After a failure: wait and retry, or quarantine once the attempts are used up. */
export function failEntry(
  db: Db,
  entry: Entry,
  from: EntryState,
  owner: string,
  error: EntryError,
  opts: QueueOptions,
  now = Date.now(),
): EntryState {
  const to: EntryState = entry.attempts >= entry.maxAttempts ? "quarantined" : "retry_wait";
  transition(
    db,
    entry,
    {
      from,
      to,
      owner,
      error,
      ...(to === "retry_wait" ? { nextAttemptAt: now + backoffMs(entry.attempts, opts) } : {}),
    },
    now,
  );
  return to;
}

/**
 * Entries whose worker died: their lease ran out. They go back to retry_wait (or quarantine when
 * out of attempts); the re-run checks the change ref first, so nothing lands twice.
 */
export function reclaimExpired(db: Db, opts: QueueOptions, now = Date.now()): number {
  const expired = db
    .select()
    .from(queueEntries)
    .where(
      and(inArray(queueEntries.state, [...leasedStates]), lt(queueEntries.leaseExpiresAt, now)),
    )
    .all();
  let n = 0;
  for (const entry of expired) {
    const error: EntryError = {
      kind: "lease_expired",
      message: `worker ${entry.leaseOwner} stopped heartbeating during ${entry.state}`,
      paths: [],
    };
    try {
      failEntry(
        db,
        entry,
        entry.state,
        entry.leaseOwner ?? "",
        error,
        { ...opts, backoffBaseMs: 0 },
        now,
      );
      n++;
    } catch (err) {
      if (!(err instanceof StaleLeaseError)) throw err;
    }
  }
  return n;
}

export function getEntry(db: DbLike, id: number): Entry | undefined {
  return db.select().from(queueEntries).where(eq(queueEntries.id, id)).get();
}

export function getChange(db: DbLike, id: number): ChangeRow | undefined {
  return db.select().from(changeRequests).where(eq(changeRequests.id, id)).get();
}

export function pendingCount(db: Db): number {
  return (
    db
      .select({ n: sql<number>`count(*)` })
      .from(queueEntries)
      .where(inArray(queueEntries.state, [...pendingStates]))
      .get()?.n ?? 0
  );
}
