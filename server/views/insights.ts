import { and, desc, gt, inArray, isNotNull, sql } from "drizzle-orm";
import type { Db } from "@/server/db/client";
import { changeQueueLogs, queueEntries } from "@/server/db/schema";
import { jsonText } from "@/server/db/sql";

export type Insights = {
  windowMinutes: number;
  throughputPerMin: number;
  successRate: number | null;
  conflictRate: number | null;
  p50QueueMs: number | null;
  p95QueueMs: number | null;
};

const percentile = (sorted: number[], p: number) =>
  sorted.length
    ? (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? null)
    : null;

/**
 * The queue's runtime figures over a recent window: landed changes per minute, the share of
 * finished entries that merged, the share of entries that met a conflict, and time in queue.
 */
export async function queueInsights(
  db: Db,
  now = Date.now(),
  windowMinutes = 15,
): Promise<Insights> {
  const since = now - windowMinutes * 60_000;
  const finished = await db
    .select({
      state: queueEntries.state,
      createdAt: queueEntries.createdAt,
      finishedAt: queueEntries.finishedAt,
    })
    .from(queueEntries)
    .where(
      and(
        isNotNull(queueEntries.finishedAt),
        gt(queueEntries.finishedAt, since),
        inArray(queueEntries.state, ["merged", "quarantined", "rejected", "rolled_back"]),
      ),
    );
  const merged = finished.filter((e) => e.state === "merged" || e.state === "rolled_back");
  const times = merged
    .map((e) => (e.finishedAt ?? e.createdAt) - e.createdAt)
    .sort((a, b) => a - b);
  const touched = (
    await db
      .select({ entryId: changeQueueLogs.entryId })
      .from(changeQueueLogs)
      .where(gt(changeQueueLogs.at, since))
      .groupBy(changeQueueLogs.entryId)
  ).length;
  const conflicted =
    (
      await db
        .select({ n: sql<number>`count(DISTINCT ${changeQueueLogs.entryId})` })
        .from(changeQueueLogs)
        .where(
          and(
            gt(changeQueueLogs.at, since),
            sql`${jsonText(changeQueueLogs.event, "error", "kind")} = 'conflict'`,
          ),
        )
        .limit(1)
    )[0]?.n ?? 0;
  return {
    windowMinutes,
    throughputPerMin: merged.length / windowMinutes,
    successRate: finished.length ? merged.length / finished.length : null,
    conflictRate: touched ? conflicted / touched : null,
    p50QueueMs: percentile(times, 50),
    p95QueueMs: percentile(times, 95),
  };
}

export async function recentLogs(db: Db, limit = 50) {
  return await db.select().from(changeQueueLogs).orderBy(desc(changeQueueLogs.id)).limit(limit);
}

export async function logsAfter(db: Db, afterId: number, limit = 200) {
  return await db
    .select()
    .from(changeQueueLogs)
    .where(gt(changeQueueLogs.id, afterId))
    .orderBy(changeQueueLogs.id)
    .limit(limit);
}
