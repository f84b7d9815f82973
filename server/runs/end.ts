import { clipText, REASON_BRIEF } from "@/schemas/bounded";
import { submitChanges } from "@/server/queue/submit";
import { liveRunState } from "@/server/runs/queries";
import { moveRun } from "@/server/state/runs/store";
import { moveTask, TaskMoveConflict, type TaskRow } from "@/server/state/tasks/store";
import type { LiveState, RunContext, Running, RunOutcome } from "./context";
import { developTask } from "./develop";
import type { Workspace } from "./workspace";

// How a run ends: its change submitted with its task's move, or the run failed, stopped or lost
// with its task put where that says, or the built-in developer taking over.

export const AGENT_AUTHOR = (agent: string) => ({
  name: `Hyperion ${agent} agent`,
  email: `${agent}@agents.hyperion.local`,
});

/**
 * Ends a run whose session has started, from the state its last move left it in; `keep` says
 * whether its workspace is kept for inspection.
 */
export async function end(
  r: Running,
  to: "failed" | "stopped" | "lost",
  reason: string,
  keep: boolean,
): Promise<RunOutcome> {
  r.keep = keep;
  return finish(r.ctx, r.run.id, r.task, to, reason, r.state);
}

/**
 * Queues the run's change: the change, the task's move and the run's to `submitted`, in one
 * transaction. A lease lost meanwhile leaves the run lost; a change refused fails it.
 */
export async function submit(
  ctx: RunContext,
  task: TaskRow,
  runId: number,
  from: "running" | "checking",
  ws: Workspace,
  change: { patch: string; risk: "low" | "medium" | "high"; checks: string[] },
  agent: string,
): Promise<RunOutcome> {
  const { patch, risk, checks } = change;
  const repo = ctx.config.repositories.find((r) => r.name === task.repo);
  try {
    const [submitted] = await submitChanges(
      ctx.db,
      {
        taskId: task.id,
        repo: task.repo,
        targetBranch: repo?.targetBranch ?? "main",
        baseCommit: ws.base,
        patch,
        summary: task.title,
        author: AGENT_AUTHOR(agent),
        // Checked again at landing, on exactly what lands: its run in the workspace was on the
        // run's base, and the tip may have moved since.
        checks,
        risk,
      },
      ctx.config,
      {
        runId,
        // The change, the task's move and the run's, in one transaction.
        within: async (tx, [change]) => {
          await moveTask(tx, {
            id: task.id,
            from: "claimed",
            to: "submitted",
            owner: task.leaseOwner,
            attempt: task.attempts,
            set: { changeRequestId: change?.id ?? null },
            event: { data: { changeRequestId: change?.id, run: runId } },
          });
          await moveRun(tx, {
            id: runId,
            from,
            to: "submitted",
            set: { changeRequestId: change?.id ?? null },
          });
        },
      },
    );
    return { state: "submitted", changeRequestId: submitted?.id ?? 0 };
  } catch (err) {
    if (err instanceof TaskMoveConflict)
      return finish(
        ctx,
        runId,
        task,
        "lost",
        "the task's lease was lost before its change was queued",
        from,
      );
    return finish(
      ctx,
      runId,
      task,
      "failed",
      `the change was refused: ${(err as Error).message}`,
      from,
    );
  }
}

/**
 * The agent ended cleanly having changed nothing: it concluded the task needs no change. The run
 * ends `no_change` and the task `done`, the reason kept on both, in one transaction.
 */
export async function concludeNoChange(r: Running, reason: string): Promise<RunOutcome> {
  const { ctx, task } = r;
  const from = r.state === "checking" ? "checking" : "running";
  try {
    await ctx.db.transaction(async (tx) => {
      await moveRun(tx, { id: r.run.id, from, to: "no_change", set: { reason } });
      await moveTask(tx, {
        id: task.id,
        from: "claimed",
        to: "done",
        owner: task.leaseOwner,
        attempt: task.attempts,
        set: { noChangeReason: reason, blockedReason: null },
        event: { reason: clipText(reason, REASON_BRIEF), data: { run: r.run.id, noChange: true } },
      });
    });
  } catch (err) {
    if (!(err instanceof TaskMoveConflict)) throw err;
    await ctx.db.transaction(async (tx) =>
      moveRun(tx, { id: r.run.id, from, to: "lost", set: { reason } }),
    );
    return { state: "lost", reason };
  }
  return { state: "no_change", reason };
}

/** The agent made no change: its run fails, and the built-in developer does the task. */
export async function fallbackToBuiltin(
  ctx: RunContext,
  runId: number,
  task: TaskRow,
  why: string,
  from: "running" | "checking",
): Promise<RunOutcome> {
  await ctx.db.transaction(async (tx) =>
    moveRun(tx, {
      id: runId,
      from,
      to: "failed",
      set: { reason: `${why}; the built-in developer took over`, fallback: "builtin" },
    }),
  );
  const out = await developTask(ctx.db, ctx.config, task);
  return "changeRequestId" in out
    ? { state: "submitted", changeRequestId: out.changeRequestId }
    : { state: "failed", reason: why };
}

/**
 * Ends a run, and puts its task where the outcome says: failed (with the reason), back to
 * pending (stopped: stop_and_requeue or the worker stopping), or left to the lease (lost).
 */
export async function finish(
  ctx: RunContext,
  runId: number,
  task: TaskRow,
  to: "failed" | "stopped" | "lost",
  reason: string,
  from?: LiveState,
): Promise<RunOutcome> {
  const current = from ?? (await liveRunState(ctx.db, runId));
  try {
    await ctx.db.transaction(async (tx) => {
      await moveRun(tx, { id: runId, from: current, to, set: { reason } });
      if (to === "lost") return;
      await moveTask(tx, {
        id: task.id,
        from: "claimed",
        to: to === "failed" ? "failed" : "pending",
        owner: task.leaseOwner,
        attempt: task.attempts,
        set: { blockedReason: reason },
        // The whole reason is on the run and the task; the event carries its short form.
        event: { reason: clipText(reason, REASON_BRIEF), data: { run: runId } },
      });
    });
  } catch (err) {
    // The lease went to another worker meanwhile: only the run is ended.
    if (!(err instanceof TaskMoveConflict)) throw err;
    await ctx.db.transaction(async (tx) =>
      moveRun(tx, { id: runId, from: current, to: "lost", set: { reason } }),
    );
    return { state: "lost", reason };
  }
  return { state: to, reason };
}
