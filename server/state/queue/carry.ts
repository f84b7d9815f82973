import { eq } from "drizzle-orm";
import type { EntryState } from "@/schemas/queue";
import type { TaskState } from "@/schemas/task-state";
import type { Tx } from "@/server/db/client";
import { changeRequests, type queueEntries, tasks } from "@/server/db/schema";
import { appendEvent } from "@/server/events/log";
import { settleRequest } from "@/server/state/requests/store";
import { moveTask } from "@/server/state/tasks/store";

type Entry = typeof queueEntries.$inferSelect;

/**
 * What a move does to its task instead of the change's usual outcome, when the caller decides
 * it (a reviewer's rejection sends the task back, or closes it, with the reviewer's reason).
 */
export type TaskOutcome = {
  to: TaskState;
  reason: string;
  blockedReason: string | null;
  data?: Record<string, unknown>;
};

/** Entry states that decide a change's outcome for its task: landed, or given up on. */
const LANDED: readonly EntryState[] = ["merged", "rolled_back"];
const GIVEN_UP: readonly EntryState[] = ["quarantined", "rejected"];

/**
 * What follows from an entry's move, in its transaction. The request its change belongs to
 * (through the change's task) hears of the move, so the request page follows its changes live.
 * When the change is its task's current one, the task takes the change's outcome: landed
 * (merged, or merged and since rolled back) → done, also for a failed task whose quarantined
 * change an operator retried; quarantined or rejected → failed, which releases its locks — or
 * what the caller `decided` instead (a reviewer's rejection). Then the request follows its
 * tasks (requests/store.ts `settleRequest`): after its task moved, or, open or done, after its
 * change was rolled back.
 */
export function carryAlong(
  tx: Tx,
  row: Entry,
  from: EntryState,
  to: EntryState,
  decided?: TaskOutcome,
): void {
  const task = tx
    .select({
      id: tasks.id,
      state: tasks.state,
      requestId: tasks.requestId,
      changeRequestId: tasks.changeRequestId,
    })
    .from(changeRequests)
    .innerJoin(tasks, eq(tasks.id, changeRequests.taskId))
    .where(eq(changeRequests.id, row.changeRequestId))
    .get();
  if (!task) return;
  if (task.requestId)
    appendEvent(tx, {
      topic: "request",
      type: `change.${to}`,
      entityId: task.requestId,
      payload: { entry: row.id, change: row.changeRequestId, from, to },
    });
  const outcome = task.changeRequestId === row.changeRequestId ? taskOutcome(task.state, to) : null;
  if (outcome && decided)
    moveTask(tx, {
      id: task.id,
      from: task.state,
      to: decided.to,
      set: { blockedReason: decided.blockedReason },
      event: { reason: decided.reason, ...(decided.data ? { data: decided.data } : {}) },
    });
  else if (outcome) {
    const reason =
      outcome === "failed"
        ? `change ${to}: ${row.lastError?.message ?? ""}`
        : task.state === "failed"
          ? `change #${row.changeRequestId} was retried and merged`
          : null;
    moveTask(tx, {
      id: task.id,
      from: task.state,
      to: outcome,
      set: { blockedReason: outcome === "failed" ? reason : null },
      event: reason ? { reason } : {},
    });
  }
  if (!task.requestId) return;
  if (outcome) settleRequest(tx, task.requestId);
  else if (to === "rolled_back")
    settleRequest(tx, task.requestId, ["planned", "in_progress", "done"]);
}

function taskOutcome(state: TaskState, to: EntryState): TaskState | null {
  if (LANDED.includes(to) && (state === "submitted" || state === "failed")) return "done";
  if (GIVEN_UP.includes(to) && state === "submitted") return "failed";
  return null;
}
