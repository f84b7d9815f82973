import { and, eq, inArray } from "drizzle-orm";
import type { RequestStatus } from "@/schemas/request-status";
import { developTask } from "@/server/agents/develop";
import type { LoadedConfig } from "@/server/config/load";
import type { Db } from "@/server/db/client";
import { queueEntries, requests, tasks } from "@/server/db/schema";
import type { TaskState } from "@/server/db/schema/tasks";
import { appendEvent } from "@/server/events/log";
import { planRequest, setRequestStatus } from "@/server/planner/plan";
import { dispatchOnce } from "./dispatch";

/**
 * Carries submitted tasks to their outcome from the merge queue (merged → done, quarantined or
 * rejected → failed, which releases their locks) and requests to theirs.
 */
export function syncOutcomes(db: Db): number {
  const submitted = db
    .select({
      id: tasks.id,
      requestId: tasks.requestId,
      entryState: queueEntries.state,
      error: queueEntries.lastError,
    })
    .from(tasks)
    .innerJoin(queueEntries, eq(queueEntries.changeRequestId, tasks.changeRequestId))
    .where(eq(tasks.state, "submitted"))
    .all();
  let changed = 0;
  const touched = new Set<number>();
  for (const t of submitted) {
    const to =
      t.entryState === "merged" || t.entryState === "rolled_back"
        ? "done"
        : t.entryState === "quarantined" || t.entryState === "rejected"
          ? "failed"
          : null;
    if (!to) continue;
    db.transaction((tx) => {
      tx.update(tasks)
        .set({
          state: to,
          blockedReason:
            to === "failed" ? `change ${t.entryState}: ${t.error?.message ?? ""}` : null,
          updatedAt: Date.now(),
        })
        .where(and(eq(tasks.id, t.id), eq(tasks.state, "submitted")))
        .run();
      appendEvent(tx, {
        topic: "request",
        type: `task.${to}`,
        entityId: t.requestId ?? 0,
        payload: { task: t.id },
      });
    });
    changed++;
    if (t.requestId) touched.add(t.requestId);
  }
  if (touched.size) settleRequests(db);
  return changed;
}

/**
 * One turn of the whole path: plan received requests, record outcomes, dispatch what the gate
 * lets through, and have the built-in developer do each claimed task. The worker runs it in a
 * loop; `hyperion request` runs it once (and, with --wait, until its requests finish).
 */
export async function advance(db: Db, config: LoadedConfig, owner: string, only?: number[]) {
  const received = db
    .select({ id: requests.id })
    .from(requests)
    .where(
      only?.length
        ? and(eq(requests.status, "received"), inArray(requests.id, only))
        : eq(requests.status, "received"),
    )
    .all();
  for (const r of received) {
    // One request that cannot be planned fails alone, with its reason; the rest go on.
    try {
      await planRequest(db, config, r.id);
    } catch (err) {
      failRequest(db, r.id, "received", `planning failed: ${(err as Error).message}`);
    }
  }
  syncOutcomes(db);
  const claimed = dispatchOnce(db, config, owner);
  const developed = [];
  for (const task of claimed)
    developed.push({ task: task.id, ...(await developTask(db, config, task)) });
  settleRequests(db);
  return { planned: received.length, developed };
}

function failRequest(db: Db, id: number, from: RequestStatus, reason: string): void {
  db.transaction((tx) => {
    const row = tx
      .select({ status: requests.status })
      .from(requests)
      .where(eq(requests.id, id))
      .get();
    if (row?.status !== from) return;
    setRequestStatus(tx, id, from, "failed", reason);
  });
}

const ACTIVE: TaskState[] = ["pending", "claimed", "submitted"];

/**
 * Ends what can no longer progress, so that no request waits silently for ever: a pending task
 * whose dependency failed (a task of its request, or a request it depends on that failed or was
 * cancelled) fails with that reason; a request whose tasks are all done is done, and one with a
 * failed task and nothing left running fails with the first task's reason.
 */
export function settleRequests(db: Db): void {
  const pending = db.select().from(tasks).where(eq(tasks.state, "pending")).all();
  if (pending.length) {
    const depIds = [...new Set(pending.flatMap((t) => t.dependsOn ?? []))];
    const failedTasks = new Set(
      depIds.length
        ? db
            .select({ id: tasks.id })
            .from(tasks)
            .where(and(inArray(tasks.id, depIds), eq(tasks.state, "failed")))
            .all()
            .map((r) => r.id)
        : [],
    );
    const requestIds = [
      ...new Set(pending.map((t) => t.requestId).filter((id): id is number => id !== null)),
    ];
    const prereqsOf = new Map(
      (requestIds.length
        ? db
            .select({ id: requests.id, dependsOn: requests.dependsOn })
            .from(requests)
            .where(inArray(requests.id, requestIds))
            .all()
        : []
      ).map((r) => [r.id, r.dependsOn]),
    );
    const prereqIds = [...new Set([...prereqsOf.values()].flat())];
    const endedPrereqs = new Map(
      (prereqIds.length
        ? db
            .select({ id: requests.id, status: requests.status })
            .from(requests)
            .where(
              and(
                inArray(requests.id, prereqIds),
                inArray(requests.status, ["failed", "cancelled"]),
              ),
            )
            .all()
        : []
      ).map((r) => [r.id, r.status]),
    );
    for (const task of pending) {
      const failedDep = (task.dependsOn ?? []).find((d) => failedTasks.has(d));
      const endedReq = (task.requestId ? (prereqsOf.get(task.requestId) ?? []) : []).find((r) =>
        endedPrereqs.has(r),
      );
      const reason = failedDep
        ? `task ${failedDep}, which this task depends on, failed`
        : endedReq
          ? `request #${endedReq}, which this request depends on, ${endedPrereqs.get(endedReq)}; file it again once that is resolved`
          : null;
      if (!reason) continue;
      db.transaction((tx) => {
        const changed = tx
          .update(tasks)
          .set({ state: "failed", blockedReason: reason, updatedAt: Date.now() })
          .where(and(eq(tasks.id, task.id), eq(tasks.state, "pending")))
          .run().changes;
        if (changed)
          appendEvent(tx, {
            topic: "request",
            type: "task.failed",
            entityId: task.requestId ?? 0,
            payload: { task: task.id, reason },
          });
      });
    }
  }
  const open = db
    .select({ id: requests.id, status: requests.status })
    .from(requests)
    .where(inArray(requests.status, ["planned", "in_progress"]))
    .all();
  for (const request of open) {
    const rows = db
      .select({ id: tasks.id, state: tasks.state, reason: tasks.blockedReason })
      .from(tasks)
      .where(eq(tasks.requestId, request.id))
      .orderBy(tasks.createdAt, tasks.id)
      .all();
    if (rows.length === 0) continue;
    if (rows.every((r) => r.state === "done")) {
      db.transaction((tx) => setRequestStatus(tx, request.id, request.status, "done"));
    } else if (
      rows.some((r) => r.state === "failed") &&
      !rows.some((r) => ACTIVE.includes(r.state))
    ) {
      const first = rows.find((r) => r.state === "failed");
      failRequest(
        db,
        request.id,
        request.status,
        `task ${first?.id} failed: ${first?.reason ?? "no reason given"}`,
      );
    }
  }
}
