import type { RunState } from "@/schemas/run-state";
import { defineMachine } from "@/server/state/machine";

/**
 * A move the table does not list, or a run that was not where its caller thought (another
 * writer moved it first); nothing was written.
 */
export class RunMoveConflict extends Error {
  override name = "RunMoveConflict";
}

/**
 * An agent run's legal moves, in one place; `moveRun()` in ./store.ts makes every move through
 * `runMachine.move`, which refuses anything else, and writes the `run.<to>` event with each.
 *
 *   starting → running      the agent's process started
 *   running  → checking     the agent ended with a change; its task's checks run on it
 *   checking → running      the checks failed; the same agent session resumes with their output
 *   running | checking → submitted   the change is in the merge queue
 *   running | checking → no_change   the agent ended cleanly having changed nothing: it found the
 *                                    task needs no change (agents.noChange "done"); its last
 *                                    message is the reason
 *   any live state → failed   no change, a write outside the task's files, a model error, a timeout…
 *   any live state → stopped  stop_and_requeue (the task goes back to pending) or the worker stopping
 *   any live state → lost     its worker died; found by the next worker, its task requeued
 */
export const runMachine = defineMachine<RunState>({
  name: "run",
  illegal: (message) => new RunMoveConflict(message),
  moves: {
    starting: ["running", "failed", "stopped", "lost"],
    running: ["running", "checking", "submitted", "no_change", "failed", "stopped", "lost"],
    checking: ["running", "submitted", "no_change", "failed", "stopped", "lost"],
    submitted: [],
    no_change: [],
    failed: [],
    stopped: [],
    lost: [],
  },
});

export const liveRunStates: readonly RunState[] = ["starting", "running", "checking"];
