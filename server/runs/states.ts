import type { RunState } from "@/server/db/schema/runs";

/**
 * An agent run's legal moves, in one place; `moveRun()` in ./store.ts refuses anything else and
 * writes the `run.<to>` event with each move.
 *
 *   starting → running      the agent's process started
 *   running  → checking     the agent ended with a change; its task's checks run on it
 *   checking → running      the checks failed; the same agent session resumes with their output
 *   running | checking → submitted   the change is in the merge queue
 *   any live state → failed   no change, a write outside the task's files, a model error, a timeout…
 *   any live state → stopped  stop_and_requeue (the task goes back to pending) or the worker stopping
 *   any live state → lost     its worker died; found by the next worker, its task requeued
 */
export const runMoves: Record<RunState, readonly RunState[]> = {
  starting: ["running", "failed", "stopped", "lost"],
  running: ["running", "checking", "submitted", "failed", "stopped", "lost"],
  checking: ["running", "submitted", "failed", "stopped", "lost"],
  submitted: [],
  failed: [],
  stopped: [],
  lost: [],
};

export const liveRunStates: readonly RunState[] = ["starting", "running", "checking"];

export function canMoveRun(from: RunState, to: RunState): boolean {
  return runMoves[from].includes(to);
}
