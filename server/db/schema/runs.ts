import { index, integer, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { AgentEvent } from "@/schemas/agent-event";
import type { AgentName } from "@/schemas/agents";
import type { RunState } from "@/schemas/run-state";

/**
 * One agent run: a task given to an agent in a workspace of its own. Its moves are in
 * server/state/runs/states.ts and written only by server/state/runs/store.ts (`moveRun`).
 */
export const agentRuns = sqliteTable(
  "agent_runs",
  {
    id: integer().primaryKey({ autoIncrement: true }),
    taskId: text("task_id").notNull(),
    requestId: integer("request_id"),
    repo: text().notNull(),
    agent: text().$type<AgentName>().notNull(),
    state: text().$type<RunState>().notNull(),
    /** The worker process that supervises it, and the task claim it works under. */
    owner: text().notNull(),
    taskAttempt: integer("task_attempt").notNull(),
    pid: integer(),
    sandbox: text().$type<"bwrap" | "none">(),
    cliVersion: text("cli_version"),
    baseCommit: text("base_commit"),
    promptHash: text("prompt_hash"),
    /** Where the prompt file is kept (an artifact of the run, in the data directory). */
    promptPath: text("prompt_path"),
    /** A failed run's workspace, kept for inspection until the retention limit. */
    workspace: text(),
    /** Its size on disk when kept: kept workspaces share a disk budget (agents.keptWorkspacesBytes). */
    workspaceBytes: integer("workspace_bytes"),
    sessionId: text("session_id"),
    /** Agent sessions: the first, and each resume with failing checks' output or a steer. */
    sessions: integer().notNull().default(0),
    turns: integer().notNull().default(0),
    inputTokens: integer("input_tokens").notNull().default(0),
    outputTokens: integer("output_tokens").notNull().default(0),
    costUsd: real("cost_usd"),
    /** Output lines that were not the CLI's JSON: the diff is still used. */
    unparsed: integer().notNull().default(0),
    /** `builtin` when the built-in developer took over (the policy's fallback). */
    fallback: text(),
    reason: text(),
    /**
     * The last lines of the agent's stderr (at most 20 lines, 4 KiB, its secrets replaced), from
     * its last session: what a failure says beyond "exited with code 1".
     */
    stderrTail: text("stderr_tail"),
    changeRequestId: integer("change_request_id"),
    createdAt: integer("created_at").notNull(),
    startedAt: integer("started_at"),
    lastEventAt: integer("last_event_at"),
    endedAt: integer("ended_at"),
  },
  (t) => [
    index("agent_runs_task_idx").on(t.taskId),
    index("agent_runs_request_idx").on(t.requestId),
    index("agent_runs_state_idx").on(t.state),
  ],
);

/** A run's normalised events, in order (the run page's log). */
export const agentRunEvents = sqliteTable(
  "agent_run_events",
  {
    id: integer().primaryKey({ autoIncrement: true }),
    runId: integer("run_id")
      .notNull()
      .references(() => agentRuns.id),
    at: integer().notNull(),
    event: text({ mode: "json" }).$type<AgentEvent>().notNull(),
  },
  (t) => [index("agent_run_events_run_idx").on(t.runId, t.id)],
);

export const steerCommands = [
  "append_context",
  "checkpoint_and_replan",
  "stop_and_requeue",
] as const;
export type SteerCommand = (typeof steerCommands)[number];

/** Steering sent to a run; the source event id makes a command idempotent. */
export const runSteers = sqliteTable(
  "run_steers",
  {
    id: integer().primaryKey({ autoIncrement: true }),
    runId: integer("run_id")
      .notNull()
      .references(() => agentRuns.id),
    command: text().$type<SteerCommand>().notNull(),
    reason: text().notNull(),
    sourceEventId: text("source_event_id").notNull(),
    by: text().notNull(),
    createdAt: integer("created_at").notNull(),
    appliedAt: integer("applied_at"),
    outcome: text(),
  },
  (t) => [uniqueIndex("run_steers_source_idx").on(t.runId, t.sourceEventId)],
);
