import type { EntryState } from "@/schemas/queue";
import type { RequestStatus } from "@/schemas/request-status";
import type { TaskState } from "@/schemas/task-state";

const ACTIVE: readonly TaskState[] = ["pending", "claimed", "submitted"];

/**
 * A planned request's status, from its tasks and their changes — the one rule, so that a page,
 * the CLI and the worker can never disagree: every task done is `done`, unless one of their
 * changes has been rolled back (`rolled_back`); a failed task with nothing left running is
 * `failed`; a task sent back to triage with nothing left running is `needs_attention`; a
 * change waiting for a reviewer makes it `awaiting_approval`; anything still running
 * is `in_progress` (or `planned` before any task moved). Null when there are no tasks yet:
 * planning decides then. Tasks a new plan replaced (`superseded`) are left out.
 */
export function deriveRequestStatus(
  all: {
    state: TaskState;
    entryState: EntryState | null;
    /** A pending task that waits on a task sent back to triage: it cannot run until a re-scope. */
    heldByTriage?: boolean;
  }[],
): RequestStatus | null {
  // A superseded task belongs to a plan its request's edit replaced: it counts no more.
  const work = all.filter((w) => w.state !== "superseded");
  if (work.length === 0) return null;
  if (work.every((w) => w.state === "done"))
    return work.some((w) => w.entryState === "rolled_back") ? "rolled_back" : "done";
  const running = work.some((w) => ACTIVE.includes(w.state) && !w.heldByTriage);
  if (work.some((w) => w.state === "failed") && !running) return "failed";
  // A task the gate sent back to triage (no area): once nothing else runs, a person completes
  // the spec (re-scopes the request), as for a question that came back.
  if (work.some((w) => w.state === "triage") && !running) return "needs_attention";
  // What its requester waits on: a reviewer, before anything else still moving.
  if (work.some((w) => w.state === "submitted" && w.entryState === "awaiting_approval"))
    return "awaiting_approval";
  return work.every((w) => w.state === "pending") ? "planned" : "in_progress";
}
