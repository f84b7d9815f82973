import { and, asc, eq, gt, inArray, isNull, sql } from "drizzle-orm";
import { type EntryState, entryStates } from "@/schemas/queue";
import type { Db } from "@/server/db/client";
import { queueEntries, workerHeartbeats } from "@/server/db/schema";
import { type RemoteStatus, remoteStatuses } from "@/server/remotes/status";
import { ALIVE_WITHIN_MS } from "@/server/workers/heartbeat";
import { pendingStates } from "../state/queue/states";
import { type HostLine, hostsStatus } from "./hosts";

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
  /** Every host's workers, their heartbeats and what each holds (views/hosts.ts). */
  hosts: HostLine[];
};

export async function queueStatus(db: Db, now = Date.now()): Promise<QueueStatus> {
  const counts = Object.fromEntries(entryStates.map((s) => [s, 0])) as Record<EntryState, number>;
  for (const row of await db
    .select({ state: queueEntries.state, n: sql<number>`count(*)` })
    .from(queueEntries)
    .groupBy(queueEntries.state)) {
    counts[row.state] = row.n;
  }
  const threads = (
    await db
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
  ).map((t) => ({ id: t.id, currentEntryId: t.currentEntryId, heartbeatAgeMs: now - t.beatAt }));
  const [oldest] = await db
    .select({ createdAt: queueEntries.createdAt })
    .from(queueEntries)
    .where(inArray(queueEntries.state, [...pendingStates]))
    .orderBy(asc(queueEntries.id))
    .limit(1);
  const remotes = (await remoteStatuses(db)).map(({ updatedAt: _, ...r }) => r);
  return {
    counts,
    remotes,
    threadsAlive: threads.length,
    threads,
    oldestPendingAgeMs: oldest ? now - oldest.createdAt : null,
    hosts: await hostsStatus(db, now),
  };
}
