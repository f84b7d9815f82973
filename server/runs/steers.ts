import { and, eq, isNull } from "drizzle-orm";
import type { Db, DbLike } from "@/server/db/client";
import { runSteers } from "@/server/db/schema";
import type { SteerCommand } from "@/server/db/schema/runs";
import { appendEvent } from "@/server/events/log";

// Steering commands as the supervisor takes them: those waiting for a run, each marked applied
// once, and the notes earlier runs of a task were sent. Operators record them (service.ts).

/** The steering commands recorded for a run and not applied yet. */
export function waitingSteers(db: DbLike, runId: number) {
  return db
    .select()
    .from(runSteers)
    .where(and(eq(runSteers.runId, runId), isNull(runSteers.appliedAt)))
    .all();
}

/**
 * Marks a steering command applied, with what it did, and tells the run's log; once only (a
 * command applied meanwhile is left as it is).
 */
export function markSteerApplied(
  tx: DbLike,
  steer: { id: number; command: SteerCommand },
  runId: number,
  outcome: string,
): void {
  const applied = tx
    .update(runSteers)
    .set({ appliedAt: Date.now(), outcome })
    .where(and(eq(runSteers.id, steer.id), isNull(runSteers.appliedAt)))
    .run().changes;
  if (applied)
    appendEvent(tx, {
      topic: "run",
      type: "run.steer_applied",
      entityId: runId,
      payload: { id: runId, command: steer.command, outcome },
    });
}

/** append_context and checkpoint_and_replan notes sent to earlier runs of the task, oldest first. */
export function notesForTask(db: Db, taskId: string): { command: SteerCommand; reason: string }[] {
  return db.$client
    .prepare(
      `SELECT s.command, s.reason FROM run_steers s JOIN agent_runs r ON r.id = s.run_id
       WHERE r.task_id = ? AND s.command IN ('append_context', 'checkpoint_and_replan') ORDER BY s.id`,
    )
    .all(taskId) as { command: SteerCommand; reason: string }[];
}
