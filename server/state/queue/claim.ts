import type { EntryState } from "@/schemas/queue";
import type { Db } from "@/server/db/client";
import { rowToEntry } from "./entries";
import type { Entry, QueueOptions } from "./options";
import { claimableStates, entryMachine, holdingStates, leasedStates } from "./states";
import { logTransition } from "./store";

// The claims: the one kind of move that takes a lease, an entry at a time (claimNext) or a
// branch's entries into a speculative pipeline's lane (claimLane). Raw SQL, so the choice and
// the swap are one statement; each claim logs its move in the same transaction.

const inList = (states: readonly EntryState[]) => states.map((s) => `'${s}'`).join(", ");

/**
 * Claims the oldest runnable entry in one statement under BEGIN IMMEDIATE. Runnable: queued or
 * due for retry, and no earlier entry that touches one of its paths still pending — so entries
 * on a common path land in submission order while disjoint ones run in parallel. The claim is
 * the one move that takes a lease: it swaps on the state still being claimable and writes its
 * log row in the same transaction.
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
                heartbeat_at = @now, attempts = attempts + 1, updated_at = @now, in_lane = 0
          WHERE id = (
            SELECT e.id FROM queue_entries e
             WHERE e.state IN (${inList(claimableStates)}) AND e.next_attempt_at <= @now
               AND NOT EXISTS (${EARLIER_ON_A_COMMON_PATH})
               AND NOT EXISTS (${LANE_HELD_BY_ANOTHER})
             ORDER BY e.id LIMIT 1)
        RETURNING *`,
      )
      .get({ owner, expires: now + opts.leaseMs, now }) as Record<string, unknown> | undefined;
    if (!row) return undefined;
    const entry = rowToEntry(row);
    // The table is the authority here too: a claimable state it does not let move to applying
    // undoes the claim.
    entryMachine.assert(entry.claimedFrom ?? "queued", "applying", `entry ${entry.id}`);
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

// A branch whose entries another owner holds in a speculative pipeline's lane is that owner's:
// other threads leave its entries alone.
// An earlier entry still pending, or waiting for a reviewer, that touches one of entry e's paths:
// e waits for it (a lane may add a condition on \`other\`, the earlier entry, after it).
const EARLIER_ON_A_COMMON_PATH = `SELECT 1 FROM queue_entry_paths mine
   JOIN queue_entry_paths theirs
     ON theirs.repo = mine.repo AND theirs.path = mine.path AND theirs.entry_id < mine.entry_id
   JOIN queue_entries other ON other.id = theirs.entry_id
  WHERE mine.entry_id = e.id AND other.state IN (${inList(holdingStates)})`;

// So is an entry landed through the pipeline while another owner holds any entry of its branch:
// claims are serialised, so the first claim of a branch's pipelined entries leads its lane.
const LANE_HELD_BY_ANOTHER = `SELECT 1 FROM queue_entries l
   WHERE l.repo = e.repo AND l.target_branch = e.target_branch AND (l.in_lane = 1 OR e.pipelined = 1)
     AND (l.lane = e.lane OR l.lane = '*' OR e.lane = '*')
     AND l.lease_owner IS NOT NULL AND l.lease_owner <> @owner
     AND l.state IN (${inList(leasedStates)})`;

/**
 * A speculative pipeline's claim (queue/pipeline.ts): `entry`, which this owner just claimed,
 * and up to `max` - 1 more claimable entries of its branch, in submission order, into one lane.
 * An entry behind one of the lane's on a common path may join (it is stacked after it); one
 * behind another owner's pending entry, or one nobody holds (queued, or waiting for a reviewer),
 * may not. All moves in one transaction, each logged. (`IS`, not `=`: an earlier entry with no
 * lease must count as another's, and `NULL = @owner` would let the entry behind it in.)
 */
export function claimLane(
  db: Db,
  owner: string,
  entry: Entry,
  max: number,
  opts: QueueOptions,
  now = Date.now(),
): Entry[] {
  const claim = db.$client.transaction(() => {
    db.$client
      .prepare("UPDATE queue_entries SET in_lane = 1 WHERE id = ? AND lease_owner = ?")
      .run(entry.id, owner);
    const rows = db.$client
      .prepare(
        `UPDATE queue_entries
            SET claimed_from = state, state = 'applying', lease_owner = @owner, lease_expires_at = @expires,
                heartbeat_at = @now, attempts = attempts + 1, updated_at = @now, in_lane = 1
          WHERE id IN (
            SELECT e.id FROM queue_entries e
             WHERE e.repo = @repo AND e.target_branch = @branch AND e.pipelined = 1 AND e.lane = @lane
               AND e.state IN (${inList(claimableStates)}) AND e.next_attempt_at <= @now
               AND NOT EXISTS (${EARLIER_ON_A_COMMON_PATH}
                    AND NOT (other.lease_owner IS @owner AND other.in_lane = 1))
             ORDER BY e.id LIMIT @more)
        RETURNING *`,
      )
      .all({
        owner,
        expires: now + opts.leaseMs,
        now,
        repo: entry.repo,
        branch: entry.targetBranch,
        lane: entry.lane,
        more: Math.max(0, max - 1),
      }) as Record<string, unknown>[];
    const more = rows.map(rowToEntry).sort((a, b) => a.id - b.id);
    for (const e of more) {
      entryMachine.assert(e.claimedFrom ?? "queued", "applying", `entry ${e.id}`);
      logTransition(
        db,
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
  return claim.immediate();
}
