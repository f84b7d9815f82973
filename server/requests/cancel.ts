import { and, eq, inArray } from "drizzle-orm";
import type { RequestStatus } from "@/schemas/request-status";
import { may } from "@/server/auth/permissions";
import type { Db } from "@/server/db/client";
import { queueEntries, requests, tasks } from "@/server/db/schema";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "@/server/errors";
import { moveUnleased } from "@/server/state/queue/store";
import { moveRequest } from "@/server/state/requests/store";
import { moveTask } from "@/server/state/tasks/store";
import type { User } from "@/server/users/service";

const FINISHED: readonly RequestStatus[] = ["done", "failed", "cancelled", "rolled_back"];
const WAITING_ENTRIES = [
  "queued",
  "retry_wait",
  "quarantined",
  "awaiting_approval",
  "qa_required",
] as const;

/**
 * Cancels a request that has not finished: its pending tasks fail ("request cancelled") and the
 * request becomes cancelled in one transaction; then its changes still waiting in the queue are
 * rejected. Work in a developer's or a queue thread's hands cannot be taken back half way, so
 * while a task is claimed or a change is being landed the cancel is refused with what to wait
 * for. The requester may cancel their own request; operators and admins any.
 */
export async function cancelRequest(db: Db, id: number, user: User, reason?: string) {
  const [row] = await db.select().from(requests).where(eq(requests.id, id)).limit(1);
  if (!row) throw new NotFoundError(`no request ${id}`);
  if (!may(user, "request.cancel", { ownerId: row.requesterId }))
    throw new ForbiddenError(
      `request ${id} is not yours; its requester or an operator may cancel it`,
    );
  if (FINISHED.includes(row.status))
    throw new ValidationError([
      {
        path: "id",
        message: `request ${id} is ${row.status}; only an unfinished request can be cancelled`,
      },
    ]);
  const work = await db
    .select({ id: tasks.id, state: tasks.state, change: tasks.changeRequestId })
    .from(tasks)
    .where(eq(tasks.requestId, id));
  const changes = work.map((w) => w.change).filter((c): c is number => c !== null);
  const entries = changes.length
    ? await db
        .select({ id: queueEntries.id, state: queueEntries.state })
        .from(queueEntries)
        .where(inArray(queueEntries.changeRequestId, changes))
    : [];
  const busyTask = work.find((w) => w.state === "claimed");
  const busyEntry = entries.find((e) => ["applying", "checking", "ready"].includes(e.state));
  if (busyTask || busyEntry)
    throw new ConflictError(
      busyTask
        ? `task ${busyTask.id} is being worked on; cancel again once its change is submitted`
        : `change entry ${busyEntry?.id} is being landed; cancel again in a moment (or roll it back once merged)`,
    );
  const why = `cancelled by ${user.email}${reason ? `: ${reason}` : ""}`;
  await db.transaction(async (tx) => {
    await moveRequest(tx, { id, from: row.status, to: "cancelled", reason: why });
    for (const t of work.filter((w) => w.state === "pending"))
      await moveTask(tx, {
        id: t.id,
        from: "pending",
        to: "failed",
        set: { blockedReason: "request cancelled" },
        event: { reason: "request cancelled" },
      });
  });
  const rejected: number[] = [];
  for (const e of entries) {
    if (!(WAITING_ENTRIES as readonly string[]).includes(e.state)) continue;
    await moveUnleased(db, e.id, {
      from: e.state,
      to: "rejected",
      by: user.email,
      note: `its request was cancelled${reason ? `: ${reason}` : ""}`,
    });
    rejected.push(e.id);
  }
  const status = (
    await db
      .select({ status: requests.status })
      .from(requests)
      .where(and(eq(requests.id, id)))
      .limit(1)
  )[0]?.status;
  return { id, status, rejectedEntries: rejected };
}
