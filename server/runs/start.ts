import type { AgentPolicy } from "@/schemas/agents";
import { makeRunDir } from "@/server/confine/run";
import { log, withLogContext } from "@/server/log";
import { traceParentOf } from "@/server/state/requests/store";
import { createRun, type RunRow } from "@/server/state/runs/store";
import type { TaskRow } from "@/server/state/tasks/store";
import { withSpan } from "@/server/trace";
import type { AgentHarness } from "../agents/harness";
import { attempts } from "./attempt";
import type { Control, LiveRun, RunContext, Running, RunOutcome, Stop } from "./context";
import { finish } from "./end";
import { prepare } from "./prepare";
import { settleWorkspace } from "./workspaces";

/**
 * One task given to one agent, from claim to change request: workspace, prompt file, confined
 * sessions of the agent (resumed with failing checks' output, up to the policy's attempts),
 * supervision (lease heartbeat, run and stall timeouts, steering), the change validated and
 * checked, then queued with the move of the task to `submitted` in one transaction.
 */
export async function startRun(
  ctx: RunContext,
  task: TaskRow,
  harness: AgentHarness,
  policy: AgentPolicy,
): Promise<LiveRun> {
  const run = await ctx.db.transaction(async (tx) =>
    createRun(tx, {
      taskId: task.id,
      requestId: task.requestId,
      repo: task.repo,
      agent: harness.name,
      owner: ctx.owner,
      taskAttempt: task.attempts,
    }),
  );
  let stopRequest: Stop | null = null;
  let wake: (() => void) | null = null;
  const handle: LiveRun = {
    runId: run.id,
    taskId: task.id,
    async stop(reason) {
      stopRequest ??= { kind: "requeue", reason };
      await wake?.();
    },
    done: Promise.resolve(null as unknown as RunOutcome),
  };
  // The run's lines carry its ids; its span continues the request's trace, and its sessions'
  // agents get that span's TRACEPARENT.
  const traceParent = await traceParentOf(ctx.db, task.requestId);
  const traced = () =>
    withLogContext({ requestId: task.requestId ?? undefined, taskId: task.id, runId: run.id }, () =>
      withSpan(
        "agent.run",
        { "hyperion.run": run.id, "hyperion.task": task.id, "hyperion.agent": harness.name },
        () =>
          execute(ctx, task, harness, policy, run, {
            stopRequested: () => stopRequest,
            requestStop: async (s) => {
              stopRequest ??= s;
              await wake?.();
            },
            onWake: (f) => {
              wake = f;
            },
          }),
        traceParent,
      ),
    );
  handle.done = traced().catch(async (err: Error) => {
    log.error({ run: run.id, err: err.message }, "agent run crashed");
    return finish(ctx, run.id, task, "failed", `the run crashed: ${err.message}`);
  });
  return handle;
}

/**
 * A run's steps in order: the repository and the agent checked, the run set up, the agent's
 * attempts; and its folder, once it is over, kept for inspection or removed.
 */
async function execute(
  ctx: RunContext,
  task: TaskRow,
  harness: AgentHarness,
  policy: AgentPolicy,
  run: RunRow,
  control: Control,
): Promise<RunOutcome> {
  const repo = ctx.config.repositories.find((r) => r.name === task.repo);
  if (!repo)
    return finish(ctx, run.id, task, "failed", `repository '${task.repo}' is not configured`);
  const probe = await harness.probe();
  if (!probe.ok)
    return finish(
      ctx,
      run.id,
      task,
      "failed",
      `${harness.name}: ${probe.problem}; fix: ${probe.fix}`,
    );
  const dir = makeRunDir(`hyperion-agent-${run.id}-`);
  const r: Running = {
    ctx,
    task,
    harness,
    policy,
    run,
    control,
    dir,
    state: "starting",
    keep: false,
  };
  try {
    const prepared = await prepare(r, repo, probe.version);
    if ("problem" in prepared) return finish(ctx, run.id, task, "failed", prepared.problem);
    return await attempts(r, prepared);
  } finally {
    await settleWorkspace(ctx.db, run.id, task.repo, policy, dir, r.keep);
  }
}
