import { and, eq, gt, inArray, isNotNull, ne, or, sql } from "drizzle-orm";
import type { EntryError, EntryState } from "@/schemas/queue";
import type { Db, DbLike } from "@/server/db/client";
import { changeRequests, queueEntries, queueEntryPaths } from "@/server/db/schema";
import type { PipelinePlace, PullRequestRef } from "@/server/db/schema/queue";
import type { ChangeRow, Entry } from "./options";
import { claimableStates, leasedStates } from "./states";

/** Reads of entries and their changes (writes are store.ts's alone). */
export async function getEntry(db: DbLike, id: number): Promise<Entry | undefined> {
  return (await db.select().from(queueEntries).where(eq(queueEntries.id, id)).limit(1))[0];
}

export async function getChange(db: DbLike, id: number): Promise<ChangeRow | undefined> {
  return (await db.select().from(changeRequests).where(eq(changeRequests.id, id)).limit(1))[0];
}

/**
 * Whether a draining worker still has something to wait for, once it found nothing to claim: an
 * entry some thread holds, or one whose retry is not due yet. An entry queued behind one that
 * waits for a reviewer is not: only a person moves it, so `--drain` ends and leaves it queued.
 */
export async function stillMoving(db: Db, now = Date.now()): Promise<boolean> {
  const [row] = await db
    .select({ n: sql<number>`count(*)` })
    .from(queueEntries)
    .where(
      or(
        inArray(queueEntries.state, [...leasedStates]),
        and(inArray(queueEntries.state, [...claimableStates]), gt(queueEntries.nextAttemptAt, now)),
      ),
    )
    .limit(1);
  return (row?.n ?? 0) > 0;
}

/** The paths each of these entries changes. */
export async function pathsOf(db: DbLike, ids: number[]): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  if (!ids.length) return out;
  const rows = await db
    .select({ entryId: queueEntryPaths.entryId, path: queueEntryPaths.path })
    .from(queueEntryPaths)
    .where(inArray(queueEntryPaths.entryId, ids));
  for (const r of rows) out.set(r.entryId, [...(out.get(r.entryId) ?? []), r.path]);
  return out;
}

export function rowToEntry(row: Record<string, unknown>): Entry {
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
    inLane: Boolean(row.in_lane),
    pipelined: Boolean(row.pipelined),
    lane: (row.lane as string | undefined) ?? "",
    pipeline: row.pipeline ? (JSON.parse(row.pipeline as string) as PipelinePlace) : null,
    pullRequest: row.pull_request
      ? (JSON.parse(row.pull_request as string) as PullRequestRef)
      : null,
    qaPriority: (row.qa_priority as Entry["qaPriority"] | undefined) ?? null,
    qaEscalatedAt: row.qa_escalated_at == null ? null : Number(row.qa_escalated_at),
    createdAt: row.created_at as number,
    updatedAt: row.updated_at as number,
    finishedAt: row.finished_at as number | null,
  };
}

/**
 * Another owner's leased entry of the same branch that leads it: one in a lane, or one older than
 * `entry` (the older claim becomes the lane; a newer one is given back to it). Null when none.
 */
export async function laneRival(db: Db, entry: Entry, owner: string) {
  const rivals = (
    await db
      .select({
        id: queueEntries.id,
        owner: queueEntries.leaseOwner,
        inLane: queueEntries.inLane,
        lane: queueEntries.lane,
      })
      .from(queueEntries)
      .where(
        and(
          eq(queueEntries.repo, entry.repo),
          eq(queueEntries.targetBranch, entry.targetBranch),
          inArray(queueEntries.state, [...leasedStates]),
          isNotNull(queueEntries.leaseOwner),
          ne(queueEntries.leaseOwner, owner),
        ),
      )
  )
    // Lanes by area: only a lane of the same area, or one across areas, is a rival.
    .filter((r) => r.lane === entry.lane || r.lane === "*" || entry.lane === "*");
  return rivals.find((r) => r.inLane || r.id < entry.id) ?? null;
}
