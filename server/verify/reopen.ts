import { eq } from "drizzle-orm";
import type { DbLike } from "@/server/db/client";
import { requests, tasks } from "@/server/db/schema";
import type { ChangeRow } from "@/server/state/queue/store";
import { moveRequest } from "@/server/state/requests/store";
import { moveTask } from "@/server/state/tasks/store";
import type { VerificationRow } from "../state/verify/store";

/**
 * Sends the culprit's task back to the Orchestrator's queue (done → pending), to be dispatched
 * again to an agent whose prompt carries the failure (server/runs/prompt.ts); its request, if
 * done, is in progress again. Only a planned task whose latest change is the culprit: an ad-hoc
 * change has no agent to send it back to, and a task already re-done is left alone.
 */
export async function reopenTask(
  tx: DbLike,
  change: ChangeRow,
  v: VerificationRow,
  reason: string,
): Promise<void> {
  const [task] = await tx.select().from(tasks).where(eq(tasks.id, change.taskId)).limit(1);
  if (task?.source !== "planner" || task.state !== "done") return;
  if (task.changeRequestId !== change.id) return;
  const why = `reopened: ${reason}`;
  await moveTask(tx, {
    id: task.id,
    from: "done",
    to: "pending",
    set: { blockedReason: null },
    event: {
      reason: why,
      data: { verification: v.id, change: change.id, revertEntry: v.revertEntryId },
    },
  });
  if (!task.requestId) return;
  const [request] = await tx
    .select({ status: requests.status })
    .from(requests)
    .where(eq(requests.id, task.requestId))
    .limit(1);
  if (request?.status === "done")
    await moveRequest(tx, { id: task.requestId, from: "done", to: "in_progress", reason: why });
}
