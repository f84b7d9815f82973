import type { Db } from "@/server/db/client";
import { type Work, workOf } from "./work";

/** Everything the request page shows: the request, its spec, questions, tasks, runs and changes. */
export async function requestDetail(db: Db, id: number) {
  return detailOf(await workOf(db, { requestId: id, taskId: null }));
}

/** The request page's detail, shaped from the request's work. */
export function detailOf(work: Work) {
  const { request } = work;
  if (!request) return null;
  const current = new Set(work.tasks.map((t) => t.changeRequestId));
  // The change each task submitted last, with its entry (one that was never queued is left out).
  const changes = work.changes.flatMap(({ change, entry }) =>
    current.has(change.id) && entry
      ? [
          {
            id: change.id,
            taskId: change.taskId,
            summary: change.summary,
            risk: change.risk,
            entryId: entry.id,
            state: entry.state,
            attempts: entry.attempts,
            mergedCommit: entry.mergedCommit,
            lastError: entry.lastError,
          },
        ]
      : [],
  );
  return {
    request,
    issue: work.issue,
    closed: work.closed,
    spec: work.spec,
    // Reviewers' decisions, oldest first: a rejection keeps its reason on the page after the
    // task's next change replaced the rejected one.
    reviews: work.reviews.map(({ diffShown: _, patchHash: __, ...r }) => r),
    tasks: work.tasks.map((t) => ({
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
      noChangeReason: t.noChangeReason,
      changeRequestId: t.changeRequestId,
    })),
    runs: work.runs
      .filter((r) => r.requestId === request.id)
      .map((r) => ({
        id: r.id,
        taskId: r.taskId,
        agent: r.agent,
        state: r.state,
        reason: r.reason,
        changeRequestId: r.changeRequestId,
        turns: r.turns,
      })),
    changes: changes.map((c) => {
      // A rolled-back change links to the revert that undid it (a change request of its own).
      const revert = work.reverts.filter((r) => r.change.revertOf === c.id && r.entry).at(-1);
      return {
        ...c,
        revert: revert?.entry
          ? {
              id: revert.change.id,
              entryId: revert.entry.id,
              state: revert.entry.state,
              mergedCommit: revert.entry.mergedCommit,
            }
          : null,
      };
    }),
  };
}
export type RequestDetail = NonNullable<Awaited<ReturnType<typeof detailOf>>>;
