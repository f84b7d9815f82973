import { and, asc, eq, gt, inArray, isNull, sql } from "drizzle-orm";
import { type EntryState, entryStates } from "@/schemas/queue";
import type { Db } from "@/server/db/client";
import { queueEntries, workerHeartbeats } from "@/server/db/schema";
import { type RemoteStatus, remoteStatuses } from "@/server/remotes/status";
import { ALIVE_WITHIN_MS } from "@/server/workers/heartbeat";
import { pendingStates } from "../state/queue/states";

/** A remote repository's server as the worker last found it (server/remotes/status.ts). */
export type RemoteLine = {
  repo: string;
  url: string;
  tip: string | null;
  fetchedAt: number | null;
  pushedAt: number | null;
  failure: RemoteStatus["failure"];
  failureMessage: string | null;
  failedAt: number | null;
};

export type QueueStatus = {
  counts: Record<EntryState, number>;
  remotes: RemoteLine[];
  threadsAlive: number;
  threads: { id: string; currentEntryId: number | null; heartbeatAgeMs: number }[];
  oldestPendingAgeMs: number | null;
};

export function queueStatus(db: Db, now = Date.now()): QueueStatus {
  const counts = Object.fromEntries(entryStates.map((s) => [s, 0])) as Record<EntryState, number>;
  for (const row of db
    .select({ state: queueEntries.state, n: sql<number>`count(*)` })
    .from(queueEntries)
    .groupBy(queueEntries.state)
    .all()) {
    counts[row.state] = row.n;
  }
  const threads = db
    .select()
    .from(workerHeartbeats)
    .where(
      and(
        eq(workerHeartbeats.role, "thread"),
        isNull(workerHeartbeats.stoppedAt),
        gt(workerHeartbeats.beatAt, now - ALIVE_WITHIN_MS),
      ),
    )
    .orderBy(asc(workerHeartbeats.id))
    .all()
    .map((t) => ({ id: t.id, currentEntryId: t.currentEntryId, heartbeatAgeMs: now - t.beatAt }));
  const oldest = db
    .select({ createdAt: queueEntries.createdAt })
    .from(queueEntries)
    .where(inArray(queueEntries.state, [...pendingStates]))
    .orderBy(asc(queueEntries.id))
    .get();
  const remotes = remoteStatuses(db).map(({ updatedAt: _, ...r }) => r);
  return {
    counts,
    remotes,
    threadsAlive: threads.length,
    threads,
    oldestPendingAgeMs: oldest ? now - oldest.createdAt : null,
  };
}
