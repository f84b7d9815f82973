import { and, asc, count, desc, eq, inArray } from "drizzle-orm";
import { may } from "@/server/auth/permissions";
import type { LoadedConfig } from "@/server/config/load";
import { policyFor } from "@/server/config/policy";
import type { Db, DbLike } from "@/server/db/client";
import {
  approvals,
  changeQueueLogs,
  changeRequests,
  queueEntries,
  requests,
  tasks,
  users,
} from "@/server/db/schema";
import { patchHash, tierFor } from "@/server/queue/approval-gate";
import type { User } from "@/server/users/service";
import { diffShown, rejectOptions } from "../approvals/service";
import { reviewsOf } from "./work";

// What reviewers see: the entries waiting for them, how many, and the decisions taken so far.
// Their actions (approve, reject, open a diff) are in service.ts.

export async function waitingCount(db: DbLike): Promise<number> {
  return (
    (
      await db
        .select({ n: count() })
        .from(queueEntries)
        .where(eq(queueEntries.state, "awaiting_approval"))
        .limit(1)
    )[0]?.n ?? 0
  );
}

/**
 * Entries waiting for approval, oldest first, with what a reviewer needs to decide: risk,
 * areas and files, the task and request, the checks' outcome, the tier and approvals so far,
 * whether this viewer may approve it and has opened the diff, and approvals voided on the task.
 */
export async function listWaiting(db: Db, config: LoadedConfig, viewer: User) {
  const rows = await waitingRows(db);
  const ids = rows.map((r) => r.entry.id);
  const taskIds = rows.map((r) => r.change.taskId);
  const decisions = await reviewsOf(db, { entryIds: ids });
  const voided = await voidedApprovals(db, taskIds);
  return Promise.all(
    rows.map(async (r) => {
      const policy = policyFor(config, r.entry.repo);
      const tier = tierFor(policy, r.change.risk);
      const hash = patchHash(r.change.patch);
      const checkLog = await lastCheck(db, r.entry.id);
      const approvedBy = decisions
        .filter(
          (d) =>
            d.entryId === r.entry.id &&
            d.decision === "approved" &&
            d.patchHash === hash &&
            !d.voidedReason,
        )
        .map((d) => ({ reviewer: d.reviewer, comment: d.comment, at: d.createdAt }));
      const own = r.request?.requesterId === viewer.id;
      const mayDecide = may(viewer, "change.approve", { ownerId: r.request?.requesterId });
      return {
        entryId: r.entry.id,
        repo: r.entry.repo,
        targetBranch: r.entry.targetBranch,
        waitingSince: checkLog?.at ?? r.entry.updatedAt,
        checkedOn: checkLog?.event.checkedOn ?? null,
        change: {
          id: r.change.id,
          risk: r.change.risk,
          summary: r.change.summary,
          checks: r.change.checks,
          patchHash: hash,
          patchBytes: r.change.patch.length,
          runId: r.change.runId,
        },
        task: r.task,
        request: r.request ? { id: r.request.id, title: r.request.title } : null,
        // Who made it and where a rejection may send its task: the built-in developer's change
        // cannot go back to it (it cannot act on a reason).
        reject: rejectOptions(
          policy,
          r.change,
          r.task ? { area: r.task.area, agent: r.task.agent } : null,
        ),
        tier,
        approvedBy,
        voided: voided.filter((v) => v.taskId === r.change.taskId),
        diffShown: await diffShown(db, r.change.id, hash, viewer.id),
        mayApprove: mayDecide && !approvedBy.some((a) => a.reviewer === viewer.email),
        whyNot: own
          ? `you filed R${r.request?.id}; someone else must approve it`
          : approvedBy.some((a) => a.reviewer === viewer.email)
            ? "you approved this patch already"
            : null,
      };
    }),
  );
}

/** The entries waiting, oldest first, each with its change, task and request. */
async function waitingRows(db: DbLike) {
  return await db
    .select({
      entry: queueEntries,
      change: changeRequests,
      task: {
        id: tasks.id,
        title: tasks.title,
        area: tasks.area,
        files: tasks.neededFiles,
        agent: tasks.agent,
      },
      request: { id: requests.id, title: requests.title, requesterId: requests.requesterId },
    })
    .from(queueEntries)
    .innerJoin(changeRequests, eq(changeRequests.id, queueEntries.changeRequestId))
    .leftJoin(tasks, eq(tasks.id, changeRequests.taskId))
    .leftJoin(requests, eq(requests.id, tasks.requestId))
    .where(eq(queueEntries.state, "awaiting_approval"))
    .orderBy(asc(queueEntries.id));
}

/** Approvals given to these tasks' earlier patches and voided since (a new patch replaced them). */
async function voidedApprovals(db: DbLike, taskIds: string[]) {
  if (!taskIds.length) return [];
  return (
    await db
      .select({
        taskId: approvals.taskId,
        changeRequestId: approvals.changeRequestId,
        reviewer: users.email,
        voidedReason: approvals.voidedReason,
      })
      .from(approvals)
      .innerJoin(users, eq(users.id, approvals.reviewerId))
      .where(and(inArray(approvals.taskId, taskIds), eq(approvals.decision, "approved")))
  ).filter((a) => a.voidedReason !== null);
}

/** The entry's latest queue log: when it started waiting, and the commit it was checked on. */
async function lastCheck(db: DbLike, entryId: number) {
  return (
    await db
      .select({ event: changeQueueLogs.event, at: changeQueueLogs.at })
      .from(changeQueueLogs)
      .where(eq(changeQueueLogs.entryId, entryId))
      .orderBy(desc(changeQueueLogs.id))
      .limit(1)
  )[0];
}
