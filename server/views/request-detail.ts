import { eq, inArray } from "drizzle-orm";
import type { Db } from "@/server/db/client";
import {
  agentRuns,
  approvals,
  changeRequests,
  queueEntries,
  requestSpecs,
  tasks,
  users,
} from "@/server/db/schema";
import { getRequest } from "../requests/service";

/** Everything the request page shows: the request, its spec, questions, tasks, runs and changes. */
export function requestDetail(db: Db, id: number) {
  const request = getRequest(db, id);
  if (!request) return null;
  const spec = db.select().from(requestSpecs).where(eq(requestSpecs.requestId, id)).get() ?? null;
  const taskRows = db.select().from(tasks).where(eq(tasks.requestId, id)).orderBy(tasks.id).all();
  const changeIds = taskRows.map((t) => t.changeRequestId).filter((c): c is number => c !== null);
  const changes = changeIds.length
    ? db
        .select({
          id: changeRequests.id,
          taskId: changeRequests.taskId,
          summary: changeRequests.summary,
          entryId: queueEntries.id,
          state: queueEntries.state,
          attempts: queueEntries.attempts,
          mergedCommit: queueEntries.mergedCommit,
          lastError: queueEntries.lastError,
        })
        .from(changeRequests)
        .innerJoin(queueEntries, eq(queueEntries.changeRequestId, changeRequests.id))
        .where(inArray(changeRequests.id, changeIds))
        .all()
    : [];
  // A rolled-back change links to the revert that undid it (a change request of its own).
  const reverts = changeIds.length
    ? db
        .select({
          revertOf: changeRequests.revertOf,
          id: changeRequests.id,
          entryId: queueEntries.id,
          state: queueEntries.state,
          mergedCommit: queueEntries.mergedCommit,
        })
        .from(changeRequests)
        .innerJoin(queueEntries, eq(queueEntries.changeRequestId, changeRequests.id))
        .where(inArray(changeRequests.revertOf, changeIds))
        .all()
    : [];
  const runs = db
    .select({
      id: agentRuns.id,
      taskId: agentRuns.taskId,
      agent: agentRuns.agent,
      state: agentRuns.state,
      reason: agentRuns.reason,
      changeRequestId: agentRuns.changeRequestId,
      turns: agentRuns.turns,
    })
    .from(agentRuns)
    .where(eq(agentRuns.requestId, id))
    .orderBy(agentRuns.id)
    .all();
  // Reviewers' decisions on the request's changes, oldest first: a rejection keeps its reason
  // on the page after the task's next change replaced the rejected one.
  const taskIds = taskRows.map((t) => t.id);
  const reviews = taskIds.length
    ? db
        .select({
          id: approvals.id,
          taskId: approvals.taskId,
          changeRequestId: approvals.changeRequestId,
          entryId: approvals.entryId,
          reviewer: users.email,
          decision: approvals.decision,
          comment: approvals.comment,
          next: approvals.next,
          voidedReason: approvals.voidedReason,
          createdAt: approvals.createdAt,
        })
        .from(approvals)
        .innerJoin(users, eq(users.id, approvals.reviewerId))
        .where(inArray(approvals.taskId, taskIds))
        .orderBy(approvals.id)
        .all()
    : [];
  return {
    request,
    spec,
    reviews,
    tasks: taskRows.map((t) => ({
      id: t.id,
      title: t.title,
      state: t.state,
      area: t.area,
      neededFiles: t.neededFiles ?? [],
      lockScope: t.lockScope,
      lockKeys: t.lockKeys ?? [],
      dependsOn: t.dependsOn ?? [],
      leaseOwner: t.leaseOwner,
      leaseExpiresAt: t.leaseExpiresAt,
      blockedReason: t.blockedReason,
      changeRequestId: t.changeRequestId,
    })),
    runs,
    changes: changes.map((c) => {
      const revert = reverts.filter((r) => r.revertOf === c.id).at(-1);
      return {
        ...c,
        revert: revert
          ? {
              id: revert.id,
              entryId: revert.entryId,
              state: revert.state,
              mergedCommit: revert.mergedCommit,
            }
          : null,
      };
    }),
  };
}
export type RequestDetail = NonNullable<ReturnType<typeof requestDetail>>;
