import { and, eq, inArray } from "drizzle-orm";
import { developTask } from "@/server/agents/develop";
import type { LoadedConfig } from "@/server/config/load";
import type { Db } from "@/server/db/client";
import { queueEntries, requests, tasks } from "@/server/db/schema";
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
  for (const requestId of touched) {
    const states = db
      .select({ state: tasks.state })
      .from(tasks)
      .where(eq(tasks.requestId, requestId))
      .all()
      .map((r) => r.state);
    const request = db
      .select({ status: requests.status })
      .from(requests)
      .where(eq(requests.id, requestId))
      .get();
    if (!request || !["planned", "in_progress"].includes(request.status)) continue;
    if (states.every((s) => s === "done")) setRequestStatus(db, requestId, request.status, "done");
    else if (
      states.includes("failed") &&
      !states.some((s) => ["pending", "claimed", "submitted"].includes(s))
    ) {
      setRequestStatus(db, requestId, request.status, "failed");
    }
  }
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
  for (const r of received) await planRequest(db, config, r.id);
  syncOutcomes(db);
  const claimed = dispatchOnce(db, config, owner);
  const developed = [];
  for (const task of claimed)
    developed.push({ task: task.id, ...(await developTask(db, config, task)) });
  return { planned: received.length, developed };
}
