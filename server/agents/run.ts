import fs from "node:fs";
import path from "node:path";
import { and, eq, isNull } from "drizzle-orm";
import type { AgentEvent } from "@/schemas/agent-event";
import type { AgentPolicy } from "@/schemas/agents";
import { clipText, grouped, humanCount, listSome, REASON_BRIEF } from "@/schemas/bounded";
import { checksForWork, runChecks } from "@/server/checks/checks";
import type { LoadedConfig } from "@/server/config/load";
import { sanitizeKept } from "@/server/confine/kept";
import { makeRunDir, type RunDir } from "@/server/confine/run";
import type { Db } from "@/server/db/client";
import { requestSpecs, runSteers } from "@/server/db/schema";
import type { SteerCommand } from "@/server/db/schema/runs";
import { appendEvent } from "@/server/events/log";
import { Repo } from "@/server/git/repo";
import { log } from "@/server/log";
import { policyFor } from "@/server/planner/plan";
import { maxPatchBytesFromEnv, submitChanges } from "@/server/queue/submit";
import {
  countUnparsed,
  createRun,
  moveRun,
  noteRun,
  RunMoveConflict,
  type RunRow,
  recordRunEvents,
} from "@/server/runs/store";
import { moveTask, renewLease, TaskMoveConflict, type TaskRow } from "@/server/tasks/store";
import { developTask } from "./develop";
import type { AgentHarness, AgentSession } from "./harness";
import { buildPrompt } from "./prompt";
import { candidateCommit, collectChange, createWorkspace, type Workspace } from "./workspace";

export const AGENT_AUTHOR = (agent: string) => ({
  name: `Hyperion ${agent} agent`,
  email: `${agent}@agents.hyperion.local`,
});

export type RunContext = {
  db: Db;
  config: LoadedConfig;
  dataDir: string;
  /** The worker's id: the task lease's owner. */
  owner: string;
  leaseMs: number;
  /** Milliseconds between a stop's steps (tests shorten it). */
  stopStepMs?: number;
  /** How often the supervisor looks at the clock, the steering table and the lease. */
  tickMs?: number;
};

export type RunOutcome =
  | { state: "submitted"; changeRequestId: number }
  | { state: "failed" | "stopped" | "lost"; reason: string };

/** The handle the pool keeps for a run going: for steering and for stopping the worker. */
export type LiveRun = {
  runId: number;
  taskId: string;
  done: Promise<RunOutcome>;
  /** Stops it; its task goes back to pending (stop_and_requeue, or the worker stopping). */
  stop(reason: string): void;
};

type Stop = { kind: "requeue" | "fail" | "lost"; reason: string };

/**
 * One task given to one agent, from claim to change request: workspace, prompt file, confined
 * sessions of the agent (resumed with failing checks' output, up to the policy's attempts),
 * supervision (lease heartbeat, run and stall timeouts, steering), the change validated and
 * checked, then queued with the move of the task to `submitted` in one transaction.
 */
export function startRun(
  ctx: RunContext,
  task: TaskRow,
  harness: AgentHarness,
  policy: AgentPolicy,
): LiveRun {
  const run = ctx.db.transaction((tx) =>
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
    stop(reason) {
      stopRequest ??= { kind: "requeue", reason };
      wake?.();
    },
    done: Promise.resolve(null as unknown as RunOutcome),
  };
  handle.done = execute(ctx, task, harness, policy, run, {
    stopRequested: () => stopRequest,
    requestStop: (s) => {
      stopRequest ??= s;
      wake?.();
    },
    onWake: (f) => {
      wake = f;
    },
  }).catch((err: Error) => {
    log.error({ run: run.id, err: err.message }, "agent run crashed");
    return finish(ctx, run.id, task, "failed", `the run crashed: ${err.message}`);
  });
  return handle;
}

type Control = {
  stopRequested: () => Stop | null;
  requestStop: (s: Stop) => void;
  onWake: (f: () => void) => void;
};

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
  const gitDirOf = (r: RunDir) => `${r.root}.git`;
  const dir = makeRunDir(`hyperion-agent-${run.id}-`);
  let keep = false;
  try {
    const base = await Repo.at(repo.path).findCommit(`refs/heads/${repo.targetBranch}`);
    if (!base) return finish(ctx, run.id, task, "failed", `${repo.targetBranch} has no commit yet`);
    const files = task.neededFiles ?? [];
    const ws = await createWorkspace({
      repoPath: repo.path,
      base,
      paths: [...files, ...policy.context],
      run: dir,
      gitDir: gitDirOf(dir),
    });
    const fullPolicy = policyFor(ctx.config, task.repo);
    const spec = task.requestId
      ? ctx.db.select().from(requestSpecs).where(eq(requestSpecs.requestId, task.requestId)).get()
          ?.spec
      : null;
    const checks = checksForWork(fullPolicy, task.area ? [task.area] : [], [
      ...(task.acceptance ?? []),
      ...(spec?.checks ?? []),
    ]);
    const notes = operatorNotes(ctx.db, task.id);
    const prompt = buildPrompt(ctx.db, task, {
      base,
      checks,
      context: policy.context,
      ...(notes ? { note: notes } : {}),
    });
    const promptFile = path.join(dir.root, "prompt.md");
    fs.writeFileSync(promptFile, prompt.text);
    const artifactDir = path.join(ctx.dataDir, "runs", String(run.id));
    fs.mkdirSync(artifactDir, { recursive: true });
    fs.writeFileSync(path.join(artifactDir, "prompt.md"), prompt.text);
    noteRun(ctx.db, run.id, {
      baseCommit: base,
      promptHash: prompt.hash,
      promptPath: path.join(artifactDir, "prompt.md"),
      cliVersion: probe.version,
    });

    const allowed = new Set(files);
    let resume: { sessionId: string | null; message: string } | undefined;
    let state: "starting" | "running" | "checking" = "starting";
    const startedAt = Date.now();
    for (let attempt = 1; attempt <= policy.attempts; attempt++) {
      const session = await harness.start({
        run: dir,
        promptFile,
        prompt: prompt.text,
        taskId: task.id,
        maxOutputBytes: policy.maxOutputBytes,
        limits: fullPolicy.runLimits,
        allowHosts: policy.allowHosts,
        // Given to the session's stop: it was documented here but never reached spawnConfined.
        ...(ctx.stopStepMs ? { stopStepMs: ctx.stopStepMs } : {}),
        ...(resume ? { resume } : {}),
      });
      if ("spawnError" in session) {
        keep = true;
        return finish(
          ctx,
          run.id,
          task,
          "failed",
          `${harness.name} could not start: ${session.spawnError}`,
          state,
        );
      }
      try {
        ctx.db.transaction((tx) =>
          moveRun(tx, {
            id: run.id,
            from: state,
            to: "running",
            set: { pid: session.pid, sandbox: session.sandbox, startedAt: startedAt },
          }),
        );
      } catch (err) {
        // Ended meanwhile by another worker (it found this one dead): stop what was started.
        await session.stop();
        if (err instanceof RunMoveConflict) return { state: "lost", reason: err.message };
        throw err;
      }
      state = "running";
      const result = await supervise(ctx, task, run, session, policy, startedAt, control);
      // A run limit the session went past fails the run, named, whatever else it did.
      const limit = session.limitExceeded();
      if (limit) control.requestStop({ kind: "fail", reason: `run ${run.id} ${limit}` });
      const stop = control.stopRequested();
      if (stop) {
        keep = stop.kind === "fail";
        return finish(
          ctx,
          run.id,
          task,
          stop.kind === "lost" ? "lost" : stop.kind === "fail" ? "failed" : "stopped",
          stop.reason,
          state,
        );
      }
      const change = await collectChange(ws, (p) => allowed.has(p), {
        maxFileBytes: maxPatchBytesFromEnv(),
      });
      if ("problem" in change) {
        keep = true;
        return finish(ctx, run.id, task, "failed", change.problem, state);
      }
      if (change.outside.length) {
        keep = true;
        return finish(
          ctx,
          run.id,
          task,
          "failed",
          `the agent changed files outside its task: ${listSome(change.outside)} (it may change only ${listSome(files, { chars: 400 }) || "no files"})`,
          state,
        );
      }
      if (change.paths.length === 0) {
        const why = result.fatal
          ? `the agent failed: ${result.fatal}`
          : `the agent made no change${result.lastMessage ? `; its last message: ${result.lastMessage}` : ""}`;
        if (policy.fallback === "builtin") return fallbackToBuiltin(ctx, run.id, task, why, state);
        keep = true;
        return finish(ctx, run.id, task, "failed", why, state);
      }
      if (checks.length) {
        ctx.db.transaction((tx) => moveRun(tx, { id: run.id, from: "running", to: "checking" }));
        state = "checking";
        const candidate = await candidateCommit(ws, change);
        const verdict = await runChecks({
          gitDir: ws.gitDir,
          commit: candidate,
          policy: fullPolicy,
          checks,
          timeoutMs: 10 * 60_000,
        });
        if (!verdict.ok) {
          const output = `Check '${verdict.check}' failed: ${verdict.reason}\n\n${verdict.outputTail}`;
          recordRunEvents(ctx.db, run, [
            { kind: "error", message: output.slice(-8000), fatal: false },
          ]);
          if (attempt < policy.attempts) {
            resume = {
              sessionId: currentSession(ctx.db, run.id),
              message: `The checks failed on your change. Fix it.\n\n${output.slice(-6000)}`,
            };
            continue;
          }
          keep = true;
          return finish(
            ctx,
            run.id,
            task,
            "failed",
            `checks failed after ${attempt} attempt(s): ${verdict.check}: ${verdict.reason}`,
            state,
          );
        }
      }
      return await submit(
        ctx,
        task,
        run.id,
        state,
        ws,
        change.patch,
        spec?.risk ?? "low",
        harness.name,
      );
    }
    keep = true;
    return finish(ctx, run.id, task, "failed", "no attempts left", state);
  } finally {
    if (keep) {
      // Kept for inspection: never with a setuid or setgid bit, and counted against the budget.
      const { bytes } = sanitizeKept(dir.root);
      noteRun(ctx.db, run.id, { workspace: dir.root, workspaceBytes: bytes });
      pruneKeptWorkspaces(
        ctx.db,
        task.repo,
        policy.keepFailedWorkspaces,
        policy.keptWorkspacesBytes,
      );
    } else removeWorkspace(dir.root);
  }
}

function removeWorkspace(root: string) {
  // The path comes back from the database: remove only what a run folder looks like.
  if (!path.isAbsolute(root) || !path.basename(root).startsWith("hyperion-agent-")) return;
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(`${root}.git`, { recursive: true, force: true });
}

/**
 * Failed runs' workspaces are kept for inspection: the newest `keep` per repository, and no
 * more than `budgetBytes` of disk between them. Older ones are removed first, and their runs
 * say so (workspace null, the reason unchanged).
 */
export function pruneKeptWorkspaces(db: Db, repo: string, keep: number, budgetBytes = Infinity) {
  const kept = db.$client
    .prepare(
      `SELECT id, workspace, workspace_bytes AS bytes FROM agent_runs
       WHERE repo = ? AND workspace IS NOT NULL ORDER BY id DESC`,
    )
    .all(repo) as { id: number; workspace: string; bytes: number | null }[];
  let used = 0;
  kept.forEach((r, i) => {
    used += r.bytes ?? 0;
    if (i < keep && used <= budgetBytes) return;
    removeWorkspace(r.workspace);
    noteRun(db, r.id, { workspace: null });
  });
}

type SessionResult = { fatal?: string; lastMessage?: string };

/** Events a session's reader holds before it stores them, whatever the tick does. */
const FLUSH_AT = 500;
/** Output items read between two turns of the event loop: timers (the tick) run on time. */
const YIELD_EVERY = 256;
/** How often, at most, a summary of dropped output lines is stored. */
const DROP_SUMMARY_MS = 1000;

/**
 * Reads a session's output into the run's events (in bounded batches), and watches it: the task
 * lease is renewed while it runs; no event for the stall timeout, or the run timeout, stops it.
 *
 * Whatever the agent prints, supervision goes on: the reader yields to the event loop every
 * YIELD_EVERY items, so the tick runs on time; events past `maxEventsPerSecond` are counted,
 * not stored, and summarised ("dropped 1.2 M lines of output …") at most once a second; more
 * than `maxEvents` in the run ends it; and the tick's flush, lease renewal and steering are each
 * tried on their own, so one failing cannot skip the others.
 */
async function supervise(
  ctx: RunContext,
  task: TaskRow,
  run: RunRow,
  session: AgentSession,
  policy: AgentPolicy,
  startedAt: number,
  control: Control,
): Promise<SessionResult> {
  const tick = ctx.tickMs ?? 250;
  let lastActivity = Date.now();
  let lastRenew = 0;
  let batch: AgentEvent[] = [];
  let unparsed = 0;
  // The first session id this session reports is the one a resume names; later ones are not.
  let sessionSeen = false;
  let adopt: string | undefined;
  // Events stored for the run so far (earlier sessions' too): the per-run cap.
  let stored = countRunEvents(ctx.db, run.id);
  let windowStart = Date.now();
  let inWindow = 0;
  let dropped = 0;
  let lastSummary = 0;
  const result: SessionResult = {};
  const summarise = (now: number, force = false) => {
    if (dropped === 0 || (!force && now - lastSummary < DROP_SUMMARY_MS)) return;
    batch.push({
      kind: "error",
      fatal: false,
      message: `dropped ${humanCount(dropped)} lines of output: more than ${grouped(policy.maxEventsPerSecond)} a second (agents.maxEventsPerSecond)`,
    });
    stored++;
    dropped = 0;
    lastSummary = now;
  };
  const flush = () => {
    if (batch.length === 0 && unparsed === 0 && !adopt) return;
    const events = batch;
    const n = unparsed;
    const sessionId = adopt;
    batch = [];
    unparsed = 0;
    adopt = undefined;
    ctx.db.transaction((tx) => {
      recordRunEvents(tx, run, events, sessionId ? { adoptSession: sessionId } : {});
      countUnparsed(tx, run.id, n);
    });
  };
  let stopping = false;
  const stopFor = (s: Stop) => {
    control.requestStop(s);
  };
  control.onWake(() => {
    if (!stopping) {
      stopping = true;
      void session.stop();
    }
  });
  const timer = setInterval(() => {
    const now = Date.now();
    // Each on its own: a flush that fails must not skip the lease or the steering.
    try {
      summarise(now);
      flush();
    } catch (err) {
      log.warn({ run: run.id, err: (err as Error).message }, "run events not stored");
    }
    try {
      if (now - lastRenew > ctx.leaseMs / 3) {
        lastRenew = now;
        ctx.db.transaction((tx) =>
          renewLease(tx, {
            id: task.id,
            owner: task.leaseOwner ?? ctx.owner,
            attempt: task.attempts,
            until: now + ctx.leaseMs,
            now,
          }),
        );
      }
    } catch (err) {
      if (err instanceof TaskMoveConflict)
        stopFor({ kind: "lost", reason: "the task's lease was lost; another worker holds it" });
      else log.warn({ run: run.id, err: (err as Error).message }, "run lease not renewed");
    }
    try {
      applySteers(ctx, run.id, session, stopFor);
    } catch (err) {
      log.warn({ run: run.id, err: (err as Error).message }, "run steering not applied");
    }
    if (now - startedAt > policy.runTimeoutMs)
      stopFor({ kind: "fail", reason: `stopped by the run timeout (${policy.runTimeoutMs} ms)` });
    else if (now - lastActivity > policy.stallTimeoutMs)
      stopFor({
        kind: "fail",
        reason: `stalled: no agent event for ${Math.round(policy.stallTimeoutMs / 1000)} s`,
      });
  }, tick);
  let read = 0;
  try {
    for await (const out of session.output) {
      const now = Date.now();
      lastActivity = now;
      if (++read % YIELD_EVERY === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      if ("overflow" in out) {
        stopFor({
          kind: "fail",
          reason: `the agent printed more than ${policy.maxOutputBytes} bytes of output (agents.maxOutputBytes)`,
        });
        break;
      }
      if ("unparsed" in out) {
        unparsed++;
        continue;
      }
      const e = out.event;
      if (e.kind === "message") result.lastMessage = e.text.slice(0, 1000);
      if (e.kind === "error" && e.fatal) result.fatal = e.message.slice(0, 1000);
      const first = e.kind === "session" && !sessionSeen;
      if (first) {
        // Stored whatever the caps: it is what a resume of this session names.
        sessionSeen = true;
        adopt = e.sessionId;
      } else {
        if (now - windowStart >= 1000) {
          windowStart = now;
          inWindow = 0;
        }
        if (inWindow >= policy.maxEventsPerSecond) {
          dropped++;
          summarise(now);
          continue;
        }
        if (stored >= policy.maxEvents) {
          stopFor({
            kind: "fail",
            reason: `the agent printed more than ${grouped(policy.maxEvents)} events (agents.maxEvents)`,
          });
          break;
        }
        inWindow++;
      }
      batch.push(e);
      stored++;
      if (batch.length >= FLUSH_AT)
        try {
          flush();
        } catch (err) {
          log.warn({ run: run.id, err: (err as Error).message }, "run events not stored");
        }
    }
    await session.exited;
  } finally {
    clearInterval(timer);
    summarise(Date.now(), true);
    flush();
  }
  const exit = await session.exited;
  if (!result.fatal && exit.exitCode !== 0 && !control.stopRequested())
    result.fatal = `exited with ${exit.signal ?? `code ${exit.exitCode}`}`;
  return result;
}

function countRunEvents(db: Db, runId: number): number {
  return db.$client
    .prepare("SELECT count(*) FROM agent_run_events WHERE run_id = ?")
    .pluck()
    .get(runId) as number;
}

/** Steering commands waiting for this run, applied once each (idempotent by source event id). */
function applySteers(
  ctx: RunContext,
  runId: number,
  session: AgentSession,
  stopFor: (s: Stop) => void,
) {
  const waiting = ctx.db
    .select()
    .from(runSteers)
    .where(and(eq(runSteers.runId, runId), isNull(runSteers.appliedAt)))
    .all();
  for (const s of waiting) {
    let outcome: string;
    if (s.command === "append_context") {
      outcome = session.steer(s.reason)
        ? "delivered to the running session"
        : "this agent takes context only at a restart: it will be in the next session's prompt";
    } else {
      stopFor({ kind: "requeue", reason: `${s.command}: ${s.reason}` });
      outcome = "stopping the run; the task goes back to pending";
    }
    ctx.db.transaction((tx) => {
      const applied = tx
        .update(runSteers)
        .set({ appliedAt: Date.now(), outcome })
        .where(and(eq(runSteers.id, s.id), isNull(runSteers.appliedAt)))
        .run().changes;
      if (applied)
        appendEvent(tx, {
          topic: "run",
          type: "run.steer_applied",
          entityId: runId,
          payload: { id: runId, command: s.command, outcome },
        });
    });
  }
}

/** append_context and checkpoint_and_replan notes sent to earlier runs of the task. */
function operatorNotes(db: Db, taskId: string): string {
  const rows = db.$client
    .prepare(
      `SELECT s.command, s.reason FROM run_steers s JOIN agent_runs r ON r.id = s.run_id
       WHERE r.task_id = ? AND s.command IN ('append_context', 'checkpoint_and_replan') ORDER BY s.id`,
    )
    .all(taskId) as { command: SteerCommand; reason: string }[];
  return rows.map((r) => `- ${r.reason}`).join("\n");
}

function currentSession(db: Db, runId: number): string | null {
  return db.$client.prepare("SELECT session_id FROM agent_runs WHERE id = ?").pluck().get(runId) as
    | string
    | null;
}

async function submit(
  ctx: RunContext,
  task: TaskRow,
  runId: number,
  from: "running" | "checking",
  ws: Workspace,
  patch: string,
  risk: "low" | "medium" | "high",
  agent: string,
): Promise<RunOutcome> {
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
        checks: [],
        risk,
      },
      ctx.config,
      {
        runId,
        // The change, the task's move and the run's, in one transaction.
        within: (tx, [change]) => {
          moveTask(tx, {
            id: task.id,
            from: "claimed",
            to: "submitted",
            owner: task.leaseOwner,
            attempt: task.attempts,
            set: { changeRequestId: change?.id ?? null },
            event: { data: { changeRequestId: change?.id, run: runId } },
          });
          moveRun(tx, {
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

async function fallbackToBuiltin(
  ctx: RunContext,
  runId: number,
  task: TaskRow,
  why: string,
  from: "running" | "checking",
): Promise<RunOutcome> {
  ctx.db.transaction((tx) =>
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
function finish(
  ctx: RunContext,
  runId: number,
  task: TaskRow,
  to: "failed" | "stopped" | "lost",
  reason: string,
  from?: "starting" | "running" | "checking",
): RunOutcome {
  const current =
    from ??
    (ctx.db.$client.prepare("SELECT state FROM agent_runs WHERE id = ?").pluck().get(runId) as
      | "starting"
      | "running"
      | "checking");
  try {
    ctx.db.transaction((tx) => {
      moveRun(tx, { id: runId, from: current, to, set: { reason } });
      if (to === "lost") return;
      moveTask(tx, {
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
    ctx.db.transaction((tx) =>
      moveRun(tx, { id: runId, from: current, to: "lost", set: { reason } }),
    );
    return { state: "lost", reason };
  }
  return { state: to, reason };
}
