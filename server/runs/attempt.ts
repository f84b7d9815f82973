import { listSome } from "@/schemas/bounded";
import { runChecks } from "@/server/checks/checks";
import { recordCheckRuns } from "@/server/checks/record";
import { maxPatchBytesFromEnv } from "@/server/queue/submit";
import { runSessionId } from "@/server/runs/queries";
import { moveRun, noteRun, RunMoveConflict, recordRunEvents } from "@/server/state/runs/store";
import type { AgentSession } from "../agents/harness";
import { stderrGist } from "../agents/session";
import type { Running, RunOutcome } from "./context";
import { concludeNoChange, end, fallbackToBuiltin, submit } from "./end";
import type { Prepared } from "./prepare";
import { type SessionResult, supervise } from "./supervise";
import { candidateCommit, collectChange, type WorkspaceChange } from "./workspace";

/** The state of a run whose session has started. */
const startedState = (r: Running): "running" | "checking" =>
  r.state === "checking" ? "checking" : "running";

/** The agent's own session to resume, and what it is told on resuming. */
type Resume = { sessionId: string | null; message: string };

/** What one attempt comes to: the run's outcome, or another attempt resuming the session. */
type Attempted = { outcome: RunOutcome } | { resume: Resume };

/**
 * The agent's attempts at the task, each a confined session of it: the first from the prompt,
 * each next one resuming the session with the output of the checks that failed.
 */
export async function attempts(r: Running, p: Prepared): Promise<RunOutcome> {
  let resume: Resume | undefined;
  const startedAt = Date.now();
  for (let attempt = 1; attempt <= r.policy.attempts; attempt++) {
    const step = await attemptOnce(r, p, attempt, startedAt, resume);
    if ("outcome" in step) return step.outcome;
    resume = step.resume;
  }
  return end(r, "failed", "no attempts left", true);
}

/**
 * One session of the agent: started and supervised; then, unless the run was stopped, its change
 * collected, refused or checked, and submitted.
 */
async function attemptOnce(
  r: Running,
  p: Prepared,
  attempt: number,
  startedAt: number,
  resume: Resume | undefined,
): Promise<Attempted> {
  const started = await startSession(r, p, startedAt, resume);
  if ("outcome" in started) return started;
  const { session } = started;
  const result = await supervise(r.ctx, r.task, r.run, session, r.policy, startedAt, r.control);
  // Its stderr's last lines, kept on the run (the last session's that printed any).
  const stderr = await session.stderrTail();
  if (stderr)
    await r.ctx.db.transaction(async (tx) => noteRun(tx, r.run.id, { stderrTail: stderr }));
  // A run limit the session went past fails the run, named, whatever else it did.
  const limit = session.limitExceeded();
  if (limit) r.control.requestStop({ kind: "fail", reason: `run ${r.run.id} ${limit}` });
  const stop = r.control.stopRequested();
  if (stop)
    return {
      outcome: await end(
        r,
        stop.kind === "lost" ? "lost" : stop.kind === "fail" ? "failed" : "stopped",
        stop.reason,
        stop.kind === "fail",
      ),
    };
  const allowed = new Set(p.files);
  const change = await collectChange(p.ws, (f) => allowed.has(f), {
    maxFileBytes: maxPatchBytesFromEnv(),
  });
  if ("problem" in change) return { outcome: await end(r, "failed", change.problem, true) };
  const refused = await refuse(r, p, change, result, stderr);
  if (refused) return { outcome: refused };
  if (p.checks.length) {
    const checked = await check(r, p, change, attempt);
    if (checked) return checked;
  }
  return {
    outcome: await submit(
      r.ctx,
      r.task,
      r.run.id,
      startedState(r),
      p.ws,
      { patch: change.patch, risk: p.risk, checks: p.checks },
      r.harness.name,
    ),
  };
}

/** Starts a session of the agent and moves the run to `running` with its process. */
async function startSession(
  r: Running,
  p: Prepared,
  startedAt: number,
  resume: Resume | undefined,
): Promise<{ session: AgentSession } | { outcome: RunOutcome }> {
  const { ctx, task, harness, policy } = r;
  const session = await harness.start({
    run: r.dir,
    promptFile: p.promptFile,
    prompt: p.prompt.text,
    taskId: task.id,
    maxOutputBytes: policy.maxOutputBytes,
    limits: p.fullPolicy.runLimits,
    allowHosts: policy.allowHosts,
    // Given to the session's stop: it was documented here but never reached spawnConfined.
    ...(ctx.stopStepMs ? { stopStepMs: ctx.stopStepMs } : {}),
    ...(resume ? { resume } : {}),
  });
  if ("spawnError" in session)
    return {
      outcome: await end(
        r,
        "failed",
        `${harness.name} could not start: ${session.spawnError}`,
        true,
      ),
    };
  try {
    await ctx.db.transaction(async (tx) =>
      moveRun(tx, {
        id: r.run.id,
        from: r.state,
        to: "running",
        set: { pid: session.pid, sandbox: session.sandbox, startedAt: startedAt },
      }),
    );
  } catch (err) {
    // Ended meanwhile by another worker (it found this one dead): stop what was started.
    await session.stop();
    if (err instanceof RunMoveConflict) return { outcome: { state: "lost", reason: err.message } };
    throw err;
  }
  r.state = "running";
  return { session };
}

/**
 * A change the run cannot submit: one outside the task's files, or none at all (the built-in
 * developer takes over where the policy says so). Null when the change may go on.
 */
async function refuse(
  r: Running,
  p: Prepared,
  change: WorkspaceChange,
  result: SessionResult,
  stderr: string,
): Promise<RunOutcome | null> {
  if (change.outside.length)
    return end(
      r,
      "failed",
      `the agent changed files outside its task: ${listSome(change.outside)} (it may change only ${listSome(p.files, { chars: 400 }) || "no files"})`,
      true,
    );
  if (change.paths.length > 0) return null;
  // Ended cleanly with nothing changed: the agent found the task needs no change.
  if (!result.fatal && r.policy.noChange === "done")
    return concludeNoChange(
      r,
      result.lastMessage?.trim() || "the agent changed nothing and gave no reason",
    );
  const why = result.fatal
    ? `the agent failed: ${result.fatal}${stderr ? `; its stderr says: ${stderrGist(stderr)}` : ""}`
    : `the agent made no change${result.lastMessage ? `; its last message: ${result.lastMessage}` : ""}`;
  if (r.policy.fallback === "builtin")
    return fallbackToBuiltin(r.ctx, r.run.id, r.task, why, startedState(r));
  return end(r, "failed", why, true);
}

/**
 * The task's checks on the change, as a candidate commit. Null when they pass; when they fail,
 * another attempt resumes the session with their output, or, with no attempt left, the run fails.
 */
async function check(
  r: Running,
  p: Prepared,
  change: WorkspaceChange,
  attempt: number,
): Promise<Attempted | null> {
  const { ctx, run } = r;
  await ctx.db.transaction(async (tx) =>
    moveRun(tx, { id: run.id, from: "running", to: "checking" }),
  );
  r.state = "checking";
  const candidate = await candidateCommit(p.ws, change);
  const verdict = await runChecks({
    gitDir: p.ws.gitDir,
    commit: candidate,
    policy: p.fullPolicy,
    checks: p.checks,
    timeoutMs: 10 * 60_000,
  });
  // The agent's own checks, recorded on its run: they never stand in for the landing's.
  await recordCheckRuns(
    ctx.db,
    { place: "workspace", repo: r.task.repo, commit: candidate, runId: run.id },
    verdict.ran,
  );
  if (verdict.ok) return null;
  const output = `Check '${verdict.check}' failed: ${verdict.reason}\n\n${verdict.outputTail}`;
  await recordRunEvents(ctx.db, run, [
    { kind: "error", message: output.slice(-8000), fatal: false },
  ]);
  if (attempt < r.policy.attempts)
    return {
      resume: {
        sessionId: await runSessionId(ctx.db, run.id),
        message: `The checks failed on your change. Fix it.\n\n${output.slice(-6000)}`,
      },
    };
  return {
    outcome: await end(
      r,
      "failed",
      `checks failed after ${attempt} attempt(s): ${verdict.check}: ${verdict.reason}`,
      true,
    ),
  };
}
