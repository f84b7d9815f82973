import type { AgentPolicy } from "@/schemas/agents";
import type { LoadedConfig } from "@/server/config/load";
import type { RunDir } from "@/server/confine/run";
import type { Db } from "@/server/db/client";
import type { RunRow } from "@/server/state/runs/store";
import type { TaskRow } from "@/server/state/tasks/store";
import type { AgentHarness } from "../agents/harness";

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
  | { state: "no_change"; reason: string }
  | { state: "failed" | "stopped" | "lost"; reason: string };

/** The handle the pool keeps for a run going: for steering and for stopping the worker. */
export type LiveRun = {
  runId: number;
  taskId: string;
  done: Promise<RunOutcome>;
  /** Stops it; its task goes back to pending (stop_and_requeue, or the worker stopping). */
  stop(reason: string): void;
};

/** Why a run is to stop: its task back to pending (requeue), failed, or left to its lease (lost). */
export type Stop = { kind: "requeue" | "fail" | "lost"; reason: string };

/** How a run's steps ask it to stop, and learn that it was asked. */
export type Control = {
  stopRequested: () => Stop | null;
  requestStop: (s: Stop) => void;
  onWake: (f: () => void) => void;
};

/** A live run's state in its own machine, as its steps move it. */
export type LiveState = "starting" | "running" | "checking";

/** One run under way: what each of its steps needs, and what they leave for its end. */
export type Running = {
  ctx: RunContext;
  task: TaskRow;
  harness: AgentHarness;
  policy: AgentPolicy;
  run: RunRow;
  control: Control;
  dir: RunDir;
  /** The run's state as its last move left it. */
  state: LiveState;
  /** Keep the workspace for inspection once the run is over (a failure to look at). */
  keep: boolean;
};
