import { and, eq, isNull, sql } from "drizzle-orm";
import { z } from "zod";
import { fieldIssues } from "@/schemas/issues";
import { CONTROL_BUT_LINES } from "@/schemas/task-request";
import type { Db, DbLike } from "@/server/db/client";
import { agentRuns, runSteers } from "@/server/db/schema";
import { type SteerCommand, steerCommands } from "@/server/db/schema/runs";
import { rawAll } from "@/server/db/sql";
import { NotFoundError, ValidationError } from "@/server/errors";
import { appendEvent } from "@/server/events/log";
import { liveRunStates } from "@/server/state/runs/states";
import type { User } from "@/server/users/service";

// Steering commands: an operator records one for a live run (steerRun); the supervisor takes
// those waiting, marks each applied once, and sends a task's next runs the earlier notes.

/** The steering commands recorded for a run and not applied yet. */
export async function waitingSteers(db: DbLike, runId: number) {
  return await db
    .select()
    .from(runSteers)
    .where(and(eq(runSteers.runId, runId), isNull(runSteers.appliedAt)));
}

/**
 * Marks a steering command applied, with what it did, and tells the run's log; once only (a
 * command applied meanwhile is left as it is).
 */
export async function markSteerApplied(
  tx: DbLike,
  steer: { id: number; command: SteerCommand },
  runId: number,
  outcome: string,
): Promise<void> {
  const applied = (
    await tx
      .update(runSteers)
      .set({ appliedAt: Date.now(), outcome })
      .where(and(eq(runSteers.id, steer.id), isNull(runSteers.appliedAt)))
      .returning({ one: sql`1` })
  ).length;
  if (applied)
    await appendEvent(tx, {
      topic: "run",
      type: "run.steer_applied",
      entityId: runId,
      payload: { id: runId, command: steer.command, outcome },
    });
}

/** append_context and checkpoint_and_replan notes sent to earlier runs of the task, oldest first. */
export async function notesForTask(
  db: DbLike,
  taskId: string,
): Promise<{ command: SteerCommand; reason: string }[]> {
  return rawAll(
    db,
    sql`SELECT s.command, s.reason FROM run_steers s JOIN agent_runs r ON r.id = s.run_id
         WHERE r.task_id = ${taskId} AND s.command IN ('append_context', 'checkpoint_and_replan')
         ORDER BY s.id`,
  );
}

export const SteerInput = z.strictObject({
  command: z.enum(steerCommands),
  reason: z
    .string()
    .trim()
    .min(1, "is required: say why, the agent and the log read it")
    .max(4000, "must be at most 4000 characters")
    .refine(
      (r) => !CONTROL_BUT_LINES.test(r),
      "must not contain control characters other than tabs and line breaks",
    ),
  /** The event this steer answers (the log entry an operator acted on); the same id twice acts once. */
  sourceEventId: z.string().trim().min(1, "is required").max(200),
});

/**
 * Records a steering command for a live run; the supervisor applies it within a tick. The same
 * source event id for the same run is one command: a repeat returns the first, unchanged.
 */
export function steerRun(db: Db, runId: number, user: User, input: unknown) {
  const parsed = SteerInput.safeParse(input);
  if (!parsed.success) throw new ValidationError(fieldIssues(parsed.error));
  const s = parsed.data;
  return db.transaction(async (tx) => {
    const [run] = await tx.select().from(agentRuns).where(eq(agentRuns.id, runId)).limit(1);
    if (!run) throw new NotFoundError(`no run ${runId}`);
    const [existing] = await tx
      .select()
      .from(runSteers)
      .where(and(eq(runSteers.runId, runId), eq(runSteers.sourceEventId, s.sourceEventId)))
      .limit(1);
    if (existing) return { steer: existing, repeated: true };
    if (!liveRunStates.includes(run.state))
      throw new ValidationError([
        {
          path: "run",
          message: `run ${runId} is ${run.state}; only a starting, running or checking run can be steered`,
        },
      ]);
    const [steer] = await tx
      .insert(runSteers)
      .values({ runId, ...s, by: user.email, createdAt: Date.now() })
      .returning();
    await appendEvent(tx, {
      topic: "run",
      type: "run.steer",
      entityId: runId,
      payload: { id: runId, command: s.command, by: user.email, sourceEventId: s.sourceEventId },
    });
    return { steer, repeated: false };
  });
}
