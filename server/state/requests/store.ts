import { and, eq } from "drizzle-orm";
import type { RequestStatus } from "@/schemas/request-status";
import type { DbLike } from "@/server/db/client";
import { changeRequests, queueEntries, requests, tasks } from "@/server/db/schema";
import { stored } from "@/server/db/sql";
import { ConflictError } from "@/server/errors";
import { appendEvent } from "@/server/events/log";
import { inTransaction } from "@/server/state/machine";
import { deriveRequestStatus } from "./derive";
import { requestMachine } from "./states";

export type RequestRow = typeof requests.$inferSelect;

/**
 * Files a request in `received`, the one status a request starts in. The caller writes its
 * `request.created` event, which names the requester.
 */
export async function createRequest(
  tx: DbLike,
  values: Omit<typeof requests.$inferInsert, "id" | "status">,
): Promise<RequestRow> {
  return stored(
    await tx
      .insert(requests)
      .values({ ...values, status: "received" })
      .returning(),
  );
}

/**
 * The W3C traceparent stored with a request as it was filed (server/trace.ts), so the worker's
 * spans continue its trace; null for none, or for a request filed before traces were kept.
 */
export async function traceParentOf(
  db: DbLike,
  requestId: number | null | undefined,
): Promise<string | null> {
  if (requestId == null) return null;
  const [row] = await db
    .select({ traceParent: requests.traceParent })
    .from(requests)
    .where(eq(requests.id, requestId))
    .limit(1);
  return row?.traceParent ?? null;
}

/** The task and request behind a queue's change, and the request's traceparent (as above). */
export async function requestOfChange(
  db: DbLike,
  changeRequestId: number,
): Promise<{ taskId: string | null; requestId: number | null; traceParent: string | null }> {
  const [row] = await db
    .select({
      taskId: changeRequests.taskId,
      requestId: tasks.requestId,
      traceParent: requests.traceParent,
    })
    .from(changeRequests)
    .leftJoin(tasks, eq(tasks.id, changeRequests.taskId))
    .leftJoin(requests, eq(requests.id, tasks.requestId))
    .where(eq(changeRequests.id, changeRequestId))
    .limit(1);
  return {
    taskId: row?.taskId ?? null,
    requestId: row?.requestId ?? null,
    traceParent: row?.traceParent ?? null,
  };
}

/**
 * The one way a request's status changes: from the status the caller read to another, if the
 * table in ./states.ts allows it and the row still holds `from` (compare-and-swap), with its
 * `request.status` event in the same transaction. `reason` says why, for a failure.
 */
export async function moveRequest(
  db: DbLike,
  move: { id: number; from: RequestStatus; to: RequestStatus; reason?: string },
): Promise<RequestRow> {
  const { id, from, to, reason } = move;
  return requestMachine.move(db, {
    from,
    to,
    swap: async (tx) =>
      (
        await tx
          .update(requests)
          .set({ status: to, updatedAt: Date.now() })
          .where(and(eq(requests.id, id), eq(requests.status, from)))
          .returning()
      )[0],
    refused: () => new ConflictError(`request ${id} is no longer ${from}; reload and try again`),
    record: async (tx) =>
      appendEvent(tx, {
        topic: "request",
        type: "request.status",
        entityId: id,
        payload: { id, status: to, ...(reason ? { reason } : {}) },
      }),
  });
}

/**
 * Brings one request to the status its tasks and their changes derive (./derive.ts), if the
 * table allows the move, in one transaction: a failure names its first failed task's reason, a
 * roll-back the change rolled back. `only` limits it to requests in those statuses. Returns the
 * status it moved to, or null when it stayed.
 */
export async function settleRequest(
  db: DbLike,
  id: number,
  only?: readonly RequestStatus[],
): Promise<RequestStatus | null> {
  return inTransaction(db, async (tx) => {
    const from = (
      await tx
        .select({ status: requests.status })
        .from(requests)
        .where(eq(requests.id, id))
        .limit(1)
    )[0]?.status;
    if (!from || (only && !only.includes(from))) return null;
    const work = await tx
      .select({
        id: tasks.id,
        state: tasks.state,
        reason: tasks.blockedReason,
        entryState: queueEntries.state,
        change: tasks.changeRequestId,
        dependsOn: tasks.dependsOn,
      })
      .from(tasks)
      .leftJoin(queueEntries, eq(queueEntries.changeRequestId, tasks.changeRequestId))
      .where(eq(tasks.requestId, id))
      .orderBy(tasks.createdAt, tasks.id);
    const to = deriveRequestStatus(heldByTriage(work));
    if (!to || to === from || !requestMachine.can(from, to)) return null;
    const firstFailed = work.find((w) => w.state === "failed");
    const triaged = work.find((w) => w.state === "triage");
    const reason =
      to === "failed"
        ? `task ${firstFailed?.id} failed: ${firstFailed?.reason ?? "no reason given"}`
        : to === "needs_attention"
          ? `task ${triaged?.id}: ${triaged?.reason ?? "back to triage"}; a reviewer or operator can re-scope the request`
          : to === "rolled_back"
            ? `change #${work.find((w) => w.entryState === "rolled_back")?.change} was rolled back`
            : undefined;
    await moveRequest(tx, { id, from, to, ...(reason ? { reason } : {}) });
    return to;
  });
}

/**
 * Marks the pending tasks that wait, directly or through others, on a task sent back to
 * triage: they cannot run until the request is re-scoped, so they do not keep it in progress.
 */
function heldByTriage<T extends { id: string; state: string; dependsOn: string[] | null }>(
  work: T[],
): (T & { heldByTriage: boolean })[] {
  const held = new Set(work.filter((w) => w.state === "triage").map((w) => w.id));
  for (let grew = held.size > 0; grew; ) {
    grew = false;
    for (const w of work)
      if (
        w.state === "pending" &&
        !held.has(w.id) &&
        (w.dependsOn ?? []).some((d) => held.has(d))
      ) {
        held.add(w.id);
        grew = true;
      }
  }
  return work.map((w) => ({ ...w, heldByTriage: w.state === "pending" && held.has(w.id) }));
}
