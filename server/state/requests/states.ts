import type { RequestStatus } from "@/schemas/request-status";
import { defineMachine } from "@/server/state/machine";

/**
 * A request's legal moves, in one place. `moveRequest()` in ./store.ts makes every status change
 * through `requestMachine.move`, which refuses anything not listed here, and writes the
 * `request.status` event with each.
 */
export const requestMachine = defineMachine<RequestStatus>({
  name: "request",
  moves: {
    received: ["needs_clarification", "needs_attention", "planned", "cancelled", "failed"],
    needs_clarification: ["received", "cancelled"],
    // The same question came back after an answer, or a task went back to triage: a reviewer
    // or operator re-scopes it.
    needs_attention: ["received", "cancelled"],
    // needs_attention once planned: a task of its went back to triage (no area the policy knows).
    planned: [
      "in_progress",
      "awaiting_approval",
      "done",
      "cancelled",
      "failed",
      "rolled_back",
      "needs_attention",
    ],
    // rolled_back from in progress: a change rolled back before its merge was recorded.
    in_progress: [
      "awaiting_approval",
      "done",
      "failed",
      "cancelled",
      "rolled_back",
      "needs_attention",
    ],
    // A change of its waits for a reviewer; it moves on when the reviewer decides.
    awaiting_approval: [
      "in_progress",
      "done",
      "failed",
      "cancelled",
      "rolled_back",
      "needs_attention",
    ],
    // in_progress again: post-merge verification reopened one of its tasks (server/verify).
    done: ["rolled_back", "in_progress"],
    // failed → in_progress: its requester (or an operator) ran its failed tasks again;
    // → received: edited and planned again (server/requests/edit.ts);
    // → cancelled: closed with a reason (server/requests/close.ts).
    failed: ["received", "done", "in_progress", "awaiting_approval", "cancelled"],
    // → received: restarted from the workspace meta queue, planned again (server/meta).
    cancelled: ["received"],
    rolled_back: [],
  },
});
