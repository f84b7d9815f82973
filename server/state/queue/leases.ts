import { and, eq, inArray, like, lt, or, type SQL } from "drizzle-orm";
import type { EntryError } from "@/schemas/queue";
import type { Db } from "@/server/db/client";
import { queueEntries } from "@/server/db/schema";
import { leaseLost } from "@/server/workers/heartbeat";
import { type QueueOptions, StaleLeaseError } from "./options";
import { leasedStates } from "./states";
import { failMove, heldBy } from "./store";

// Taking leases back from holders that stopped: a dead or stalled worker's (by progress, not the
// clock alone) and a crashed thread's. The moves themselves are store.ts's.

/**
 * Entries whose worker died: their lease ran out and their worker stopped beating (or stalled
 * for good). They go back to retry_wait (or quarantine when out of attempts); the re-run checks
 * the change ref first, so nothing lands twice. The swap also requires the lease still expired,
 * so a worker that heartbeats meanwhile keeps its entry.
 */
export async function reclaimExpired(
  db: Db,
  opts: QueueOptions,
  now = Date.now(),
): Promise<number> {
  const candidates = await db
    .select()
    .from(queueEntries)
    .where(
      and(inArray(queueEntries.state, [...leasedStates]), lt(queueEntries.leaseExpiresAt, now)),
    );
  // A live worker that is only slow keeps its entry (server/workers/heartbeat.ts leaseLost).
  const expired: typeof candidates = [];
  for (const e of candidates)
    if (
      await leaseLost(db, { owner: e.leaseOwner, expiresAt: e.leaseExpiresAt }, opts.leaseMs, now)
    )
      expired.push(e);
  return giveBack(db, expired, opts, now, (e) => ({
    message: `worker ${e.leaseOwner} stopped heartbeating during ${e.state}`,
    also: [lt(queueEntries.leaseExpiresAt, now)],
  }));
}

/**
 * The entries a queue thread held when it crashed, given back at once (its process lives on and
 * respawns the thread under the same owner, so no lease would ever be judged lost): retry_wait,
 * or quarantine when out of attempts, as for a dead worker. A thread's repository loops hold
 * leases under owners of their own below it (`worker-…/t0/shop`): those are given back too.
 */
export async function releaseOwner(
  db: Db,
  owner: string,
  opts: QueueOptions,
  now = Date.now(),
): Promise<number> {
  const held = (
    await db
      .select()
      .from(queueEntries)
      .where(
        and(
          inArray(queueEntries.state, [...leasedStates]),
          or(eq(queueEntries.leaseOwner, owner), like(queueEntries.leaseOwner, `${owner}/%`)),
        ),
      )
  ).filter((e) => e.leaseOwner === owner || e.leaseOwner?.startsWith(`${owner}/`));
  return giveBack(db, held, opts, now, (e) => ({
    message: `queue thread ${owner} crashed during ${e.state}`,
    also: [],
  }));
}

/** Leased entries taken from their holder as lease_expired; one that moved meanwhile is skipped. */
async function giveBack(
  db: Db,
  rows: (typeof queueEntries.$inferSelect)[],
  opts: QueueOptions,
  now: number,
  why: (e: typeof queueEntries.$inferSelect) => { message: string; also: SQL[] },
): Promise<number> {
  let n = 0;
  for (const entry of rows) {
    const owner = entry.leaseOwner;
    if (!owner) continue;
    const { message, also } = await why(entry);
    const error: EntryError = { kind: "lease_expired", message, paths: [] };
    try {
      const held = [...heldBy(entry, owner), ...also];
      await failMove(
        db,
        entry,
        entry.state,
        owner,
        error,
        { ...opts, backoffBaseMs: 0 },
        held,
        now,
      );
      n++;
    } catch (err) {
      if (!(err instanceof StaleLeaseError)) throw err;
    }
  }
  return n;
}
