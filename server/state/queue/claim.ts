import { type SQL, sql } from "drizzle-orm";
import type { EntryState } from "@/schemas/queue";
import { concurrentTransaction, type Db } from "@/server/db/client";
import { currentDialect } from "@/server/db/schema";
import { rawAll, rawRun } from "@/server/db/sql";
import { rowToEntry } from "./entries";
import type { Entry, QueueOptions } from "./options";
import { claimableStates, entryMachine, holdingStates, leasedStates } from "./states";
import { logTransition } from "./store";

// The claims: the one kind of move that takes a lease, an entry at a time (claimNext) or a
// branch's entries into a speculative pipeline's lane (claimLane). Raw SQL, so the choice and
// the swap are one statement; each claim logs its move in the same transaction, and nothing
// stays open after it: the lease is the row's owner, expiry and attempt (the fencing token
// every later write of the holder compares), never a lock held while the entry is worked on.
// On PostgreSQL the choice skips rows another host's claim has locked (FOR UPDATE SKIP LOCKED),
// so hosts claiming at once take different entries instead of waiting on each other.

const inList = (states: readonly EntryState[]) => sql.raw(states.map((s) => `'${s}'`).join(", "));

/** PostgreSQL: lock the chosen rows, skipping those another claim holds. */
const skipLocked = (): SQL =>
  currentDialect() === "postgres" ? sql` FOR UPDATE OF e SKIP LOCKED` : sql``;

/**
 * Which entries a claim may take: one repository's (its repository loop's, queue/loop.ts), or
 * those of every repository but the ones named (the loop for repositories no longer
 * configured); all when unset.
 */
export type ClaimScope = { repo: string } | { notIn: readonly string[] };

const inScope = (scope: ClaimScope | undefined): SQL => {
  if (!scope) return sql``;
  if ("repo" in scope) return sql` AND e.repo = ${scope.repo}`;
  if (scope.notIn.length === 0) return sql``;
  return sql` AND e.repo NOT IN (${sql.join(
    scope.notIn.map((r) => sql`${r}`),
    sql`, `,
  )})`;
};

/**
 * Claims the oldest runnable entry in one statement under BEGIN IMMEDIATE. Runnable: queued or
 * due for retry, and no earlier entry that touches one of its paths still pending — so entries
 * on a common path land in submission order while disjoint ones run in parallel. The claim is
 * the one move that takes a lease: it swaps on the state still being claimable and writes its
 * log row in the same transaction.
 */
export async function claimNext(
  db: Db,
  owner: string,
  opts: QueueOptions,
  now = Date.now(),
  scope?: ClaimScope,
): Promise<Entry | undefined> {
  return concurrentTransaction(db, async (tx) => {
    const [row] = await rawAll(
      tx,
      sql`UPDATE queue_entries
            SET claimed_from = state, state = 'applying', lease_owner = ${owner},
                lease_expires_at = ${now + opts.leaseMs}, heartbeat_at = ${now},
                attempts = attempts + 1, updated_at = ${now}, in_lane = 0
          WHERE id = (
            SELECT e.id FROM queue_entries e
             WHERE e.state IN (${inList(claimableStates)}) AND e.next_attempt_at <= ${now}${inScope(scope)}
               AND NOT EXISTS (${earlierOnACommonPath()})
               AND NOT EXISTS (${laneHeldByAnother(owner)})
             ORDER BY e.id LIMIT 1${skipLocked()})
        RETURNING *`,
    );
    if (!row) return undefined;
    const entry = rowToEntry(row);
    // The table is the authority here too: a claimable state it does not let move to applying
    // undoes the claim.
    entryMachine.assert(entry.claimedFrom ?? "queued", "applying", `entry ${entry.id}`);
    await logTransition(
      tx,
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
}

// A branch whose entries another owner holds in a speculative pipeline's lane is that owner's:
// other threads leave its entries alone.
// An earlier entry still pending, or waiting for a reviewer, that touches one of entry e's paths:
// e waits for it (a lane may add a condition on \`other\`, the earlier entry, after it).
const earlierOnACommonPath = (also: SQL = sql``) => sql`SELECT 1 FROM queue_entry_paths mine
   JOIN queue_entry_paths theirs
     ON theirs.repo = mine.repo AND theirs.path = mine.path AND theirs.entry_id < mine.entry_id
   JOIN queue_entries other ON other.id = theirs.entry_id
  WHERE mine.entry_id = e.id AND other.state IN (${inList(holdingStates)})${also}`;

// So is an entry landed through the pipeline while another owner holds any entry of its branch:
// claims are serialised, so the first claim of a branch's pipelined entries leads its lane.
const laneHeldByAnother = (owner: string) => sql`SELECT 1 FROM queue_entries l
   WHERE l.repo = e.repo AND l.target_branch = e.target_branch AND (l.in_lane = 1 OR e.pipelined = 1)
     AND (l.lane = e.lane OR l.lane = '*' OR e.lane = '*')
     AND l.lease_owner IS NOT NULL AND l.lease_owner <> ${owner}
     AND l.state IN (${inList(leasedStates)})`;

/**
 * A speculative pipeline's claim (queue/pipeline.ts): `entry`, which this owner just claimed,
 * and up to `max` - 1 more claimable entries of its branch, in submission order, into one lane.
 * An entry behind one of the lane's on a common path may join (it is stacked after it); one
 * behind another owner's pending entry, or one nobody holds (queued, or waiting for a reviewer),
 * may not. All moves in one transaction, each logged. (COALESCE: an earlier entry with no lease
 * must count as another's, and a bare `NULL = owner` would let the entry behind it in.)
 */
export async function claimLane(
  db: Db,
  owner: string,
  entry: Entry,
  max: number,
  opts: QueueOptions,
  now = Date.now(),
): Promise<Entry[]> {
  return concurrentTransaction(db, async (tx) => {
    await rawRun(
      tx,
      sql`UPDATE queue_entries SET in_lane = 1 WHERE id = ${entry.id} AND lease_owner = ${owner}`,
    );
    const rows = await rawAll(
      tx,
      sql`UPDATE queue_entries
            SET claimed_from = state, state = 'applying', lease_owner = ${owner},
                lease_expires_at = ${now + opts.leaseMs}, heartbeat_at = ${now},
                attempts = attempts + 1, updated_at = ${now}, in_lane = 1
          WHERE id IN (
            SELECT e.id FROM queue_entries e
             WHERE e.repo = ${entry.repo} AND e.target_branch = ${entry.targetBranch}
               AND e.pipelined = 1 AND e.lane = ${entry.lane}
               AND e.state IN (${inList(claimableStates)}) AND e.next_attempt_at <= ${now}
               AND NOT EXISTS (${earlierOnACommonPath(
                 sql` AND NOT (COALESCE(other.lease_owner = ${owner}, FALSE) AND other.in_lane = 1)`,
               )})
             ORDER BY e.id LIMIT ${Math.max(0, max - 1)}${skipLocked()})
        RETURNING *`,
    );
    const more = rows.map(rowToEntry).sort((a, b) => a.id - b.id);
    for (const e of more) {
      entryMachine.assert(e.claimedFrom ?? "queued", "applying", `entry ${e.id}`);
      await logTransition(
        tx,
        {
          entryId: e.id,
          from: e.claimedFrom ?? "queued",
          to: "applying",
          worker: owner,
          attempt: e.attempts,
        },
        now,
      );
    }
    return [{ ...entry, inLane: true }, ...more];
  });
}
