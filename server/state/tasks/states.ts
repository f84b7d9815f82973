import type { TaskState } from "@/schemas/task-state";
import { defineMachine } from "@/server/state/machine";

/** The move is not in the table below; nothing was written. */
export class IllegalTaskMove extends Error {
  override name = "IllegalTaskMove";
}

/**
 * A task's legal moves, in one place. `moveTask()` in ./store.ts makes every move through
 * `taskMachine.move`, which refuses anything not listed here, and writes the `task.<to>` event
 * for each.
 *
 *   pending → claimed → submitted → done
 *   pending → triage     the gate: its area is not in the policy
 *   pending → failed     a task or request it depends on failed, or its request was cancelled
 *   claimed → pending    the lease expired; dispatched again
 *   claimed → failed     the developer could not make the change
 *   claimed → done       the agent concluded the task needs no change (agents.noChange "done");
 *                        its reason is kept in no_change_reason
 *   submitted → failed   its change was quarantined or rejected
 *   submitted → pending  a reviewer rejected its change and sent it back, with the reason
 *   failed → done        its quarantined change was retried by an operator and merged
 *   failed → pending     its requester (or an operator) ran the failed request again
 *   failed → superseded  its failed request was edited and planned again: new tasks replace it
 *   triage → superseded  (the same, for a task the gate held back)
 *   done → pending       post-merge verification found its landed change broke the target branch:
 *                        the change is reverted and the task dispatched again, its prompt carrying
 *                        the failure output (server/verify)
 *
 * Not listed, because nothing does it today: triage → pending (no operator action re-opens a
 * triaged task yet). Add the move together with the code that needs it.
 */
export const taskMachine = defineMachine<TaskState>({
  name: "task",
  illegal: (message) => new IllegalTaskMove(message),
  moves: {
    pending: ["claimed", "triage", "failed"],
    claimed: ["pending", "submitted", "done", "failed"],
    submitted: ["done", "failed", "pending"],
    done: ["pending"],
    failed: ["done", "pending", "superseded"],
    triage: ["superseded"],
    superseded: [],
  },
});

/** The state in which a worker holds the task under a lease: moves out of it check the lease. */
export const leasedTaskState: TaskState = "claimed";

/** States that hold their lock keys. */
export const lockingTaskStates: readonly TaskState[] = ["claimed", "submitted"];
