import type { EntryState } from "@/schemas/queue";
import type { changeRequests, queueEntries } from "@/server/db/schema";

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

/**
 * Exponential backoff with jitter: half fixed, half random, so retries do not stampede.
 *
 * The doubling stops at 2^64, where any delay has long reached its cap: attempts have no upper
 * bound (a ref lock gives its attempt back, so an entry can spin past a thousand of them while a
 * dead writer's lock goes stale), and 2 ** 1024 is Infinity — times a zero base (reclaimExpired's)
 * that is NaN, which SQLite stores as NULL in next_attempt_at.
 */
export function backoffMs(attempt: number, opts: QueueOptions, random = Math.random): number {
  const doublings = Math.min(Math.max(0, attempt - 1), 64);
  const base = Math.min(opts.backoffBaseMs * 2 ** doublings, opts.backoffMaxMs);
  return Math.round(base / 2 + (base / 2) * random());
}

/** An unleased move found the entry elsewhere than expected (or gone); nothing was written. */
export class EntryStateError extends Error {
  override name = "EntryStateError";
  constructor(
    readonly entryId: number,
    readonly expected: EntryState,
    readonly actual: EntryState | undefined,
  ) {
    super(actual ? `entry ${entryId} is ${actual}, not ${expected}` : `no queue entry ${entryId}`);
  }
}
