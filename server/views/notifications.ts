import { and, desc, eq, gt, inArray, ne, sql } from "drizzle-orm";
import { can } from "@/server/auth/permissions";
import type { Db } from "@/server/db/client";
import {
  changeQueueLogs,
  changeRequests,
  events,
  queueEntries,
  requests,
  tasks,
} from "@/server/db/schema";
import { jsonText } from "@/server/db/sql";
import { latestIds, marksOf } from "@/server/users/notification-marks";
import type { User } from "@/server/users/service";

/** What a notification is about. */
export type NotificationKind = "question" | "done" | "failed" | "rolled_back" | "approval";

export type Notification = {
  /** Unique in the list: `e<event id>` or `q<queue log id>`. */
  key: string;
  kind: NotificationKind;
  requestId: number | null;
  title: string;
  /** The request's failure reason, for a failed one. */
  reason: string | null;
  entryId: number | null;
  href: string;
  at: number;
  unread: boolean;
};

type Viewer = Pick<User, "id" | "role">;

/** The request statuses a requester hears about, and what each is called. */
const STATUS_KINDS: Record<string, NotificationKind> = {
  needs_clarification: "question",
  done: "done",
  failed: "failed",
  rolled_back: "rolled_back",
};
const statusOf = sql<string>`${jsonText(events.payload, "status")}`;
const movedTo = sql<string>`${jsonText(changeQueueLogs.event, "to")}`;

/** A requester's news: status events of requests she filed (a question, done, failed, rolled back). */
async function requesterRows(db: Db, viewer: Viewer, afterId: number, limit: number) {
  return await db
    .select({
      id: events.id,
      requestId: requests.id,
      title: requests.title,
      status: statusOf,
      reason: sql<string | null>`${jsonText(events.payload, "reason")}`,
      at: events.createdAt,
    })
    .from(events)
    .innerJoin(requests, eq(requests.id, events.entityId))
    .where(
      and(
        eq(events.topic, "request"),
        gt(events.id, afterId),
        eq(events.type, "request.status"),
        eq(requests.requesterId, viewer.id),
        inArray(statusOf, Object.keys(STATUS_KINDS)),
      ),
    )
    .orderBy(desc(events.id))
    .limit(limit);
}

/**
 * A reviewer's news: changes that moved to "waiting for approval" and still wait, on requests
 * someone else filed (nobody approves their own). Read from the queue's append-only log.
 */
async function reviewerRows(db: Db, viewer: Viewer, afterId: number, limit: number) {
  if (!can(viewer.role, "change.approve")) return [];
  const rows = await db
    .select({
      id: changeQueueLogs.id,
      entryId: queueEntries.id,
      requestId: requests.id,
      title: sql<string>`coalesce(${requests.title}, ${changeRequests.summary})`,
      at: changeQueueLogs.at,
    })
    .from(changeQueueLogs)
    .innerJoin(queueEntries, eq(queueEntries.id, changeQueueLogs.entryId))
    .innerJoin(changeRequests, eq(changeRequests.id, queueEntries.changeRequestId))
    .leftJoin(tasks, eq(tasks.id, changeRequests.taskId))
    .leftJoin(requests, eq(requests.id, tasks.requestId))
    .where(
      and(
        gt(changeQueueLogs.id, afterId),
        eq(movedTo, "awaiting_approval"),
        eq(queueEntries.state, "awaiting_approval"),
        sql`(${requests.requesterId} IS NULL OR ${ne(requests.requesterId, viewer.id)})`,
      ),
    )
    .orderBy(desc(changeQueueLogs.id))
    .limit(limit);
  // An entry that came back to the reviewer twice is one notification: its newest.
  const seen = new Set<number>();
  return rows.filter((r) => !seen.has(r.entryId) && seen.add(r.entryId));
}

/**
 * The viewer's notifications, newest first, derived from the events and the queue's log (no
 * queue of their own): a reviewer learns a change waits for her approval; a requester that her
 * request has a question, is done, failed or was rolled back. `unread` is what came after the
 * viewer's marks (server/users/notification-marks.ts); `latest` is what "read" marks up to.
 */
export async function notificationsFor(db: Db, viewer: Viewer, limit = 50) {
  const marks = await marksOf(db, viewer.id);
  const latest = await latestIds(db);
  const mine: Notification[] = (await requesterRows(db, viewer, 0, limit)).map((r) => ({
    key: `e${r.id}`,
    kind: STATUS_KINDS[r.status] ?? "done",
    requestId: r.requestId,
    title: r.title,
    reason: r.status === "failed" ? r.reason : null,
    entryId: null,
    href: `/requests/${r.requestId}`,
    at: r.at,
    unread: r.id > marks.events,
  }));
  const approvals: Notification[] = (await reviewerRows(db, viewer, 0, limit)).map((r) => ({
    key: `q${r.id}`,
    kind: "approval",
    requestId: r.requestId,
    title: r.title.split("\n")[0] ?? "",
    reason: null,
    entryId: r.entryId,
    href: "/approvals",
    at: r.at,
    unread: r.id > marks.queueLogs,
  }));
  const items = [...mine, ...approvals].sort((a, b) => b.at - a.at).slice(0, limit);
  return { items, unread: await unreadCount(db, viewer), latest };
}

/** The most the header counts; beyond it the bell says 99+. */
export const UNREAD_CAP = 99;

/**
 * How far back the header's count looks, in ids of each log: someone who never opened their
 * notifications is not counted every event since the first (the list still shows them).
 */
const UNREAD_WINDOW = 10_000;

/** How many notifications came after the viewer's marks (at most UNREAD_CAP + 1 of each kind). */
export async function unreadCount(db: Db, viewer: Viewer): Promise<number> {
  const marks = await marksOf(db, viewer.id);
  const latest = await latestIds(db);
  return (
    (
      await requesterRows(
        db,
        viewer,
        Math.max(marks.events, latest.events - UNREAD_WINDOW),
        UNREAD_CAP + 1,
      )
    ).length +
    (
      await reviewerRows(
        db,
        viewer,
        Math.max(marks.queueLogs, latest.queueLogs - UNREAD_WINDOW),
        UNREAD_CAP + 1,
      )
    ).length
  );
}
