import { and, count, eq, inArray } from "drizzle-orm";
import type { AgentName } from "@/schemas/agents";
import { agentFor } from "@/server/agents/choose";
import { ConfigError, type LoadedConfig } from "@/server/config/load";
import { policyFor } from "@/server/config/policy";
import type { Db } from "@/server/db/client";
import { changeRequests, queueEntries, requests, tasks } from "@/server/db/schema";
import { ConflictError, NotFoundError, ValidationError } from "@/server/errors";
import { log, withLogContext } from "@/server/log";
import type { Engineer } from "@/server/planning/engineer";
import { AgentEngineer, EngineerStopped } from "@/server/planning/engineer-agent";
import { planRequest } from "@/server/planning/plan";
import { developTask } from "@/server/runs/develop";
import { type AgentPool, harnessFor } from "@/server/runs/pool";
import { moveRequest, settleRequest, traceParentOf } from "@/server/state/requests/store";
import { moveTask, TaskMoveConflict } from "@/server/state/tasks/store";
import { withSpan } from "@/server/trace";
import { dispatchOnce } from "./dispatch";

/**
 * One turn of the whole path: plan received requests, settle what can no longer progress,
 * dispatch what the gate lets through, and have the built-in developer do each claimed task.
 * A change's outcome needs no recording here: the queue entry's move carries it into its task
 * and request. The worker runs it in a loop; `hyperion request` runs it once (and, with
 * --wait, until its requests finish).
 */
export async function advance(
  db: Db,
  config: LoadedConfig,
  owner: string,
  only?: number[],
  taskLeaseMs?: number,
  /** The worker's agent runs. Without one (the CLI), tasks for agents wait for the worker. */
  agents?: AgentPool,
  /** One repository's work (its repository loop, dispatch/loops.ts); every repository's if unset. */
  repo?: string,
) {
  const received = await db
    .select({ id: requests.id, repo: requests.repo, traceParent: requests.traceParent })
    .from(requests)
    .where(
      and(
        eq(requests.status, "received"),
        only?.length ? inArray(requests.id, only) : undefined,
        repo === undefined ? undefined : eq(requests.repo, repo),
      ),
    );
  for (const r of received) {
    const policy = policyFor(config, r.repo);
    if (policy.agents.engineer === "builtin") {
      await inRequest(r, "request.plan", () => planOne(db, config, r.id));
      continue;
    }
    // An agent Engineer's session takes as long as a model does: the worker runs it in the
    // background (no request holds up the pass); the CLI leaves it to the worker.
    const repo = config.repositories.find((c) => c.name === r.repo);
    if (!agents || !repo) continue;
    agents.scope(r.id, r.repo, policy, (signal) =>
      inRequest(r, "request.scope", () =>
        planOne(
          db,
          config,
          r.id,
          new AgentEngineer({
            harness: harnessFor(
              policy.agents.engineer as Exclude<AgentName, "builtin">,
              policy,
              config,
            ),
            repo,
            timeoutMs: policy.agents.runTimeoutMs,
            stallTimeoutMs: policy.agents.stallTimeoutMs,
            maxOutputBytes: policy.agents.maxOutputBytes,
            signal,
          }),
        ),
      ),
    );
  }
  await settleRequests(db, repo);
  const claimed = await dispatchOnce(
    db,
    config,
    owner,
    Date.now(),
    taskLeaseMs,
    agents
      ? agents.accept(config)
      : (t) => agentFor(policyFor(config, t.repo), t.area, t.agent) === "builtin",
    repo,
  );
  const developed = [];
  for (const task of claimed) {
    if (agentFor(policyFor(config, task.repo), task.area, task.agent) !== "builtin" && agents) {
      await agents.start(config, task);
      continue;
    }
    const traceParent = await traceParentOf(db, task.requestId);
    const outcome = await withLogContext(
      { requestId: task.requestId ?? undefined, taskId: task.id },
      () =>
        withSpan(
          "task.develop",
          { "hyperion.task": task.id, "hyperion.agent": "builtin" },
          () => developTask(db, config, task),
          traceParent,
        ),
    );
    developed.push({ task: task.id, ...outcome });
  }
  await settleRequests(db, repo);
  return { planned: received.length, developed };
}

/** Only one repository's rows, when a repository loop asks; all otherwise. */
const ofRepo = (column: typeof tasks.repo | typeof requests.repo, repo: string | undefined) =>
  repo === undefined ? undefined : eq(column, repo);

/** Runs `fn` for a request: its id on each log line, in a span of the request's trace. */
function inRequest<T>(
  r: { id: number; repo: string; traceParent: string | null },
  name: string,
  fn: () => Promise<T>,
): Promise<T> {
  return withLogContext({ requestId: r.id }, () =>
    withSpan(name, { "hyperion.request": r.id, "hyperion.repo": r.repo }, fn, r.traceParent),
  );
}

/**
 * Plans one request. One that cannot be planned fails alone, with its reason; the rest go on.
 * Only an error that will repeat fails it; anything else (a busy database, a git hiccup, another
 * worker planning it first, the worker stopping) leaves it received for the next pass.
 */
async function planOne(db: Db, config: LoadedConfig, id: number, engineer?: Engineer) {
  try {
    await planRequest(db, config, id, engineer);
  } catch (err) {
    if (willRepeat(err)) await failPlanning(db, id, `planning failed: ${(err as Error).message}`);
    else if (err instanceof EngineerStopped)
      log.info({ request: id }, "scoping stopped with the worker; the next worker scopes it");
    else log.warn({ err, request: id }, "planning failed; will try again on the next pass");
  }
}

/** Planning errors that the next pass would meet again: the request is wrong, not the moment. */
function willRepeat(err: unknown): boolean {
  return (
    err instanceof ValidationError || err instanceof NotFoundError || err instanceof ConfigError
  );
}

/**
 * Fails a received request whose planning will fail again; if it has moved meanwhile (cancelled,
 * say) nothing happens, so one raced request never aborts a pass.
 */
async function failPlanning(db: Db, id: number, reason: string): Promise<void> {
  try {
    await moveRequest(db, { id, from: "received", to: "failed", reason });
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
  }
}

/**
 * Ends what can no longer progress, so that no request waits silently for ever: a pending task
 * whose dependency failed (a task of its request, or a request it depends on that failed or was
 * cancelled) fails with that reason; a request whose tasks are all done is done, and one with a
 * failed task and nothing left running fails with the first task's reason.
 */
export async function settleRequests(db: Db, repo?: string): Promise<void> {
  // Each failure can fail the next link of a chain (1.1 ← 1.2 ← 1.3, or requests A ← B ← C), so
  // go round until nothing changes; every round but the last fails at least one pending task.
  const limit =
    (
      await db
        .select({ n: count() })
        .from(tasks)
        .where(and(ofRepo(tasks.repo, repo), eq(tasks.state, "pending")))
        .limit(1)
    )[0]?.n ?? 0;
  for (let round = 0; round <= limit; round++) {
    const tasksFailed = await failBlockedTasks(db, repo);
    const requestsFailed = await deriveRequests(db, repo);
    if (tasksFailed === 0 && requestsFailed === 0) break;
  }
}

/** Fails each pending task whose dependency failed; returns how many it failed. */
async function failBlockedTasks(db: Db, repo: string | undefined): Promise<number> {
  let failed = 0;
  const pending = await db
    .select()
    .from(tasks)
    .where(and(ofRepo(tasks.repo, repo), eq(tasks.state, "pending")));
  if (pending.length) {
    const depIds = [...new Set(pending.flatMap((t) => t.dependsOn ?? []))];
    const failedTasks = new Set(
      depIds.length
        ? (
            await db
              .select({ id: tasks.id })
              .from(tasks)
              .where(and(inArray(tasks.id, depIds), eq(tasks.state, "failed")))
          ).map((r) => r.id)
        : [],
    );
    const requestIds = [
      ...new Set(pending.map((t) => t.requestId).filter((id): id is number => id !== null)),
    ];
    const prereqsOf = new Map(
      (requestIds.length
        ? await db
            .select({ id: requests.id, dependsOn: requests.dependsOn })
            .from(requests)
            .where(inArray(requests.id, requestIds))
        : []
      ).map((r) => [r.id, r.dependsOn]),
    );
    const prereqIds = [...new Set([...prereqsOf.values()].flat())];
    const endedPrereqs = new Map(
      (prereqIds.length
        ? await db
            .select({ id: requests.id, status: requests.status, repo: requests.repo })
            .from(requests)
            .where(
              and(
                inArray(requests.id, prereqIds),
                inArray(requests.status, ["failed", "cancelled", "rolled_back"]),
              ),
            )
        : []
      ).map((r) => [r.id, r]),
    );
    for (const task of pending) {
      const failedDep = (task.dependsOn ?? []).find((d) => failedTasks.has(d));
      const endedReq = (task.requestId ? (prereqsOf.get(task.requestId) ?? []) : []).find((r) =>
        endedPrereqs.has(r),
      );
      const ended = endedReq ? endedPrereqs.get(endedReq) : undefined;
      // Another repository's request is named with its repository (a cross-repository
      // dependency, server/meta).
      const reason = failedDep
        ? `task ${failedDep}, which this task depends on, failed`
        : ended
          ? `request #${ended.id}${ended.repo === task.repo ? "" : ` in ${ended.repo}`}, which this request depends on, ${ended.status.replace("_", " ")}; file it again once that is resolved`
          : null;
      if (!reason) continue;
      try {
        await db.transaction(async (tx) =>
          moveTask(tx, {
            id: task.id,
            from: "pending",
            to: "failed",
            set: { blockedReason: reason },
            event: { reason },
          }),
        );
        failed++;
      } catch (err) {
        // Dispatched or failed by another pass meanwhile: it is no longer ours to fail.
        if (!(err instanceof TaskMoveConflict)) throw err;
      }
    }
  }
  return failed;
}

/**
 * Brings requests to the status their tasks and changes derive (state/requests/store.ts
 * `settleRequest`): the open ones, and done ones with a change that has been rolled back
 * (→ rolled_back). Returns how many it failed.
 */
async function deriveRequests(db: Db, repo: string | undefined): Promise<number> {
  const rolledBack = (
    await db
      .select({ id: requests.id })
      .from(queueEntries)
      .innerJoin(changeRequests, eq(changeRequests.id, queueEntries.changeRequestId))
      .innerJoin(tasks, eq(tasks.id, changeRequests.taskId))
      .innerJoin(requests, eq(requests.id, tasks.requestId))
      .where(
        and(
          ofRepo(requests.repo, repo),
          eq(queueEntries.state, "rolled_back"),
          eq(requests.status, "done"),
        ),
      )
  ).map((r) => r.id);
  const open = (
    await db
      .select({ id: requests.id })
      .from(requests)
      .where(
        and(
          ofRepo(requests.repo, repo),
          inArray(requests.status, ["planned", "in_progress", "awaiting_approval"]),
        ),
      )
  ).map((r) => r.id);
  let failed = 0;
  for (const id of new Set([...open, ...rolledBack]))
    if ((await settleRequest(db, id)) === "failed") failed++;
  return failed;
}
