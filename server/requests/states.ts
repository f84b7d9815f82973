import type { RequestStatus } from "@/schemas/request-status";

/** A request's legal moves. Every status change goes through `assertTransition`. */
export const requestTransitions: Record<RequestStatus, readonly RequestStatus[]> = {
  received: ["needs_clarification", "needs_attention", "planned", "cancelled", "failed"],
  needs_clarification: ["received", "cancelled"],
  // The same question came back after an answer: a reviewer or operator re-scopes it.
  needs_attention: ["received", "cancelled"],
  planned: ["in_progress", "done", "cancelled", "failed", "rolled_back"],
  // rolled_back from in progress: a change rolled back before its merge was recorded.
  in_progress: ["done", "failed", "cancelled", "rolled_back"],
  // in_progress again: post-merge verification reopened one of its tasks (server/verify).
  done: ["rolled_back", "in_progress"],
  // failed → in_progress: its requester (or an operator) ran its failed tasks again.
  failed: ["received", "done", "in_progress"],
  cancelled: [],
  rolled_back: [],
};

export function canTransition(from: RequestStatus, to: RequestStatus): boolean {
  return requestTransitions[from].includes(to);
}

export function assertTransition(from: RequestStatus, to: RequestStatus): void {
  if (!canTransition(from, to)) throw new Error(`illegal request transition ${from} → ${to}`);
}
