import { eq } from "drizzle-orm";
import type { AgentName } from "@/schemas/agents";
import type { EntryState } from "@/schemas/queue";
import type { TaskState } from "@/schemas/task-state";
import type { Tx } from "@/server/db/client";
import { changeRequests, queueEntries, tasks } from "@/server/db/schema";
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
  /** The agent the task is handed to (a reviewer's choice on rejecting a built-in change). */
  agent?: AgentName;
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
 * tasks (state/requests/store.ts `settleRequest`): after its task moved, or, open or done, after its
 * change was rolled back.
 */
export async function carryAlong(
  tx: Tx,
  row: Entry,
  from: EntryState,
  to: EntryState,
  decided?: TaskOutcome,
  move: { by?: string; note?: string } = {},
): Promise<void> {
  const [task] = await tx
    .select({
      id: tasks.id,
      state: tasks.state,
      requestId: tasks.requestId,
      changeRequestId: tasks.changeRequestId,
      runId: changeRequests.runId,
    })
    .from(changeRequests)
    .innerJoin(tasks, eq(tasks.id, changeRequests.taskId))
    .where(eq(changeRequests.id, row.changeRequestId))
    .limit(1);
  if (!task) return;
  if (task.requestId)
    await appendEvent(tx, {
      topic: "request",
      type: `change.${to}`,
      entityId: task.requestId,
      payload: { entry: row.id, change: row.changeRequestId, from, to },
    });
  // The run that made the change follows it too: its page shows the change queued, merged…
  if (task.runId !== null)
    await appendEvent(tx, {
      topic: "run",
      type: `change.${to}`,
      entityId: task.runId,
      payload: { entry: row.id, change: row.changeRequestId, from, to },
    });
  const outcome = task.changeRequestId === row.changeRequestId ? taskOutcome(task.state, to) : null;
  // An agent's change that failed its checks at landing goes back to its maker: the task is
  // dispatched again, and its next prompt carries the output (runs/prompt.ts). A person's or a
  // script's change stays quarantined with the output, its task failed.
  const reopened =
    outcome === "failed" &&
    !decided &&
    task.runId !== null &&
    landingCheckFailed(row) &&
    (await landingFailures(tx, task.id)) <= MAX_LANDING_REOPENS
      ? {
          to: "pending" as const,
          reason: `its change #${row.changeRequestId} failed its checks at landing: ${row.lastError?.message ?? ""}`,
          blockedReason: null,
          data: { entry: row.id, landingChecksFailed: true },
        }
      : undefined;
  decided ??= reopened;
  if (outcome && decided)
    await moveTask(tx, {
      id: task.id,
      from: task.state,
      to: decided.to,
      set: {
        blockedReason: decided.blockedReason,
        ...(decided.agent ? { agent: decided.agent } : {}),
      },
      event: { reason: decided.reason, ...(decided.data ? { data: decided.data } : {}) },
    });
  else if (outcome) {
    const reason =
      outcome === "failed"
        ? givenUpReason(row, to, move)
        : task.state === "failed"
          ? `change #${row.changeRequestId} was retried and merged`
          : null;
    await moveTask(tx, {
      id: task.id,
      from: task.state,
      to: outcome,
      set: { blockedReason: outcome === "failed" ? reason : null },
      event: reason ? { reason } : {},
    });
  }
  if (!task.requestId) return;
  if (outcome) await settleRequest(tx, task.requestId);
  else if (to === "rolled_back")
    await settleRequest(tx, task.requestId, [
      "planned",
      "in_progress",
      "awaiting_approval",
      "done",
    ]);
  // A reviewer's wait starts or ends: the request says so to its requester.
  else if (to === "awaiting_approval" || from === "awaiting_approval")
    await settleRequest(tx, task.requestId, ["planned", "in_progress", "awaiting_approval"]);
}

/**
 * Why a task failed with its change: the person's note on a rejection (a cancel, a drop), else
 * the entry's error, else who did it and that no reason was given — never an empty "rejected:".
 */
export function givenUpReason(
  row: Pick<Entry, "lastError">,
  to: EntryState,
  move: { by?: string; note?: string } = {},
): string {
  const person = move.by?.startsWith("user:")
    ? move.by.slice(5)
    : move.by?.includes("@")
      ? move.by
      : undefined;
  const head = `change ${to}${to === "rejected" && person ? ` by ${person}` : ""}`;
  const why =
    (to === "rejected" ? move.note?.trim() : undefined) ||
    row.lastError?.message?.trim() ||
    move.note?.trim();
  return why ? `${head}: ${why}` : `${head}; no reason was given`;
}

/** How many times an agent's task goes back after its change failed at landing, then fails. */
export const MAX_LANDING_REOPENS = 3;

/** The task's changes quarantined by checks failed at landing (this move's included). */
async function landingFailures(tx: Tx, taskId: string): Promise<number> {
  return (
    await tx
      .select({ lastError: queueEntries.lastError, state: queueEntries.state })
      .from(changeRequests)
      .innerJoin(queueEntries, eq(queueEntries.changeRequestId, changeRequests.id))
      .where(eq(changeRequests.taskId, taskId))
  ).filter((r) => r.state === "quarantined" && landingCheckFailed(r)).length;
}

/** Checks that failed (or ran out of time) on the candidate at landing. */
function landingCheckFailed(row: Pick<Entry, "lastError">): boolean {
  return row.lastError?.kind === "check_failed" || row.lastError?.kind === "check_timeout";
}

function taskOutcome(state: TaskState, to: EntryState): TaskState | null {
  if (LANDED.includes(to) && (state === "submitted" || state === "failed")) return "done";
  if (GIVEN_UP.includes(to) && state === "submitted") return "failed";
  return null;
}
