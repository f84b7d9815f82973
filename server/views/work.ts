import { and, asc, desc, eq, inArray, or } from "drizzle-orm";
import type { Db, DbLike } from "@/server/db/client";
import {
  agentRuns,
  approvals,
  changeRequests,
  events,
  githubIssues,
  queueEntries,
  requestSpecs,
  tasks,
  users,
} from "@/server/db/schema";
import { getRequest } from "@/server/requests/service";

// The joins every view of a request's work shares, written once: its tasks, their runs, their
// changes each with its queue entry, the changes that reverted them, and reviewers' decisions.
// The request page, its trace and its summary are shaped from one load of it.

/** A change with its queue entry (none while it has not been queued). */
export type ChangeWithEntry = {
  change: typeof changeRequests.$inferSelect;
  entry: typeof queueEntries.$inferSelect | null;
};

/** Changes with their queue entries: of these tasks, or those that revert these changes. */
export async function changesWithEntries(
  db: Db,
  where: { taskIds: string[] } | { revertOf: number[] },
): Promise<ChangeWithEntry[]> {
  const ids = "taskIds" in where ? where.taskIds : where.revertOf;
  if (ids.length === 0) return [];
  return await db
    .select({ change: changeRequests, entry: queueEntries })
    .from(changeRequests)
    .leftJoin(queueEntries, eq(queueEntries.changeRequestId, changeRequests.id))
    .where(
      "taskIds" in where
        ? inArray(changeRequests.taskId, where.taskIds)
        : inArray(changeRequests.revertOf, where.revertOf),
    )
    .orderBy(asc(changeRequests.id));
}

/**
 * Reviewers' decisions (approvals, rejections, voided ones) on these tasks' changes or on these
 * queue entries, oldest first, with the reviewer's address.
 */
export async function reviewsOf(db: DbLike, where: { taskIds: string[] } | { entryIds: number[] }) {
  const ids = "taskIds" in where ? where.taskIds : where.entryIds;
  if (ids.length === 0) return [];
  return await db
    .select({
      id: approvals.id,
      entryId: approvals.entryId,
      taskId: approvals.taskId,
      changeRequestId: approvals.changeRequestId,
      patchHash: approvals.patchHash,
      reviewer: users.email,
      decision: approvals.decision,
      comment: approvals.comment,
      next: approvals.next,
      agent: approvals.agent,
      diffShown: approvals.diffShown,
      voidedReason: approvals.voidedReason,
      createdAt: approvals.createdAt,
    })
    .from(approvals)
    .innerJoin(users, eq(users.id, approvals.reviewerId))
    .where(
      "taskIds" in where
        ? inArray(approvals.taskId, where.taskIds)
        : inArray(approvals.entryId, where.entryIds),
    )
    .orderBy(asc(approvals.id));
}

/** A request's work (or an ad-hoc task's, which has no request), read once. */
export async function workOf(db: Db, target: { requestId: number | null; taskId: string | null }) {
  const request =
    target.requestId !== null ? ((await getRequest(db, target.requestId)) ?? null) : null;
  const spec =
    target.requestId !== null
      ? ((
          await db
            .select()
            .from(requestSpecs)
            .where(eq(requestSpecs.requestId, target.requestId))
            .limit(1)
        )[0] ?? null)
      : null;
  const taskRows =
    target.requestId !== null
      ? await db
          .select()
          .from(tasks)
          .where(eq(tasks.requestId, target.requestId))
          .orderBy(asc(tasks.id))
      : await db
          .select()
          .from(tasks)
          .where(eq(tasks.id, target.taskId ?? ""));
  const taskIds = taskRows.map((t) => t.id);
  const runs =
    taskIds.length || target.requestId !== null
      ? await db
          .select()
          .from(agentRuns)
          .where(
            or(
              taskIds.length ? inArray(agentRuns.taskId, taskIds) : undefined,
              target.requestId !== null ? eq(agentRuns.requestId, target.requestId) : undefined,
            ),
          )
          .orderBy(asc(agentRuns.id))
      : [];
  const changes = await changesWithEntries(db, { taskIds });
  const reverts = await changesWithEntries(db, { revertOf: changes.map((c) => c.change.id) });
  // The GitHub issue the request came from, if it did (server/github).
  const issue =
    target.requestId !== null
      ? ((
          await db
            .select({
              githubRepo: githubIssues.githubRepo,
              number: githubIssues.number,
              url: githubIssues.url,
            })
            .from(githubIssues)
            .where(eq(githubIssues.requestId, target.requestId))
            .limit(1)
        )[0] ?? null)
      : null;
  // Who closed a failed request, and why (server/requests/close.ts).
  const closedEvent =
    request?.status === "cancelled"
      ? (
          await db
            .select({ payload: events.payload, at: events.createdAt })
            .from(events)
            .where(
              and(
                eq(events.topic, "request"),
                eq(events.entityId, request.id),
                eq(events.type, "request.closed"),
              ),
            )
            .orderBy(desc(events.id))
            .limit(1)
        )[0]
      : undefined;
  const closedPayload = closedEvent?.payload as { by?: string; reason?: string } | undefined;
  const closed = closedEvent
    ? {
        by: String(closedPayload?.by ?? ""),
        reason: String(closedPayload?.reason ?? ""),
        at: closedEvent.at,
      }
    : null;
  return {
    request,
    issue,
    closed,
    spec,
    tasks: taskRows,
    runs,
    changes,
    reverts,
    reviews: await reviewsOf(db, { taskIds }),
  };
}
export type Work = Awaited<ReturnType<typeof workOf>>;
