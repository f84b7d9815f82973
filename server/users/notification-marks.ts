import { eq, max, sql } from "drizzle-orm";
import type { Db, DbLike } from "@/server/db/client";
import { changeQueueLogs, events, notificationMarks } from "@/server/db/schema";

/** How far a person has read: the last event and queue log ids they have seen (0, 0 at first). */
export async function marksOf(
  db: DbLike,
  userId: number,
): Promise<{ events: number; queueLogs: number }> {
  const [row] = await db
    .select()
    .from(notificationMarks)
    .where(eq(notificationMarks.userId, userId))
    .limit(1);
  return { events: row?.eventsSeen ?? 0, queueLogs: row?.queueLogsSeen ?? 0 };
}

/** The newest ids there are now: what "read them all" reads up to. */
export async function latestIds(db: DbLike): Promise<{ events: number; queueLogs: number }> {
  return {
    events:
      (
        await db
          .select({ id: max(events.id) })
          .from(events)
          .limit(1)
      )[0]?.id ?? 0,
    queueLogs:
      (
        await db
          .select({ id: max(changeQueueLogs.id) })
          .from(changeQueueLogs)
          .limit(1)
      )[0]?.id ?? 0,
  };
}

/**
 * Marks a person's notifications read up to these ids (by default, all there are now). Marks
 * only move forward, and never past what exists, so a stale page or a forged id neither
 * un-reads nor pre-reads anything.
 */
export function markSeen(
  db: Db,
  userId: number,
  upTo?: { events?: number; queueLogs?: number },
): Promise<{ events: number; queueLogs: number }> {
  return db.transaction(async (tx) => {
    const latest = await latestIds(tx);
    const was = await marksOf(tx, userId);
    const next = {
      events: Math.max(was.events, Math.min(upTo?.events ?? latest.events, latest.events)),
      queueLogs: Math.max(
        was.queueLogs,
        Math.min(upTo?.queueLogs ?? latest.queueLogs, latest.queueLogs),
      ),
    };
    await tx
      .insert(notificationMarks)
      .values({
        userId,
        eventsSeen: next.events,
        queueLogsSeen: next.queueLogs,
        updatedAt: Date.now(),
      })
      .onConflictDoUpdate({
        target: notificationMarks.userId,
        set: {
          eventsSeen: sql`excluded.events_seen`,
          queueLogsSeen: sql`excluded.queue_logs_seen`,
          updatedAt: sql`excluded.updated_at`,
        },
      });
    return next;
  });
}
