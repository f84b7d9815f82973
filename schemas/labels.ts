import { metaStateLabels } from "./meta";
import type { EntryState } from "./queue";
import type { RequestStatus } from "./request-status";

/**
 * The words people read for each state. Machine names (`needs_clarification`, `retry_wait`)
 * stay in the API, the CLI's JSON and the URL; every page shows these instead, so one state
 * reads the same on every page.
 */
export const requestStatusLabels: Record<RequestStatus, string> = {
  received: "Received",
  needs_clarification: "Question for you",
  needs_attention: "Needs attention",
  planned: "Planned",
  in_progress: "In progress",
  awaiting_approval: "Waiting for approval",
  done: "Done",
  failed: "Failed",
  cancelled: "Cancelled",
  rolled_back: "Rolled back",
};

export const entryStateLabels: Record<EntryState, string> = {
  queued: "Queued",
  applying: "Applying",
  checking: "Running checks",
  ready: "Ready to land",
  awaiting_approval: "Waiting for approval",
  qa_required: "Waiting for QA",
  in_review: "Pull request open",
  merged: "Merged",
  retry_wait: "Retrying soon",
  quarantined: "Quarantined",
  rejected: "Rejected",
  rolled_back: "Rolled back",
};

export const taskStateLabels: Record<string, string> = {
  pending: "Waiting",
  claimed: "Agent working",
  submitted: "Change submitted",
  done: "Done",
  failed: "Failed",
  triage: "Needs triage",
  superseded: "Replaced by a new plan",
};

export const runStateLabels: Record<string, string> = {
  starting: "Starting",
  running: "Running",
  checking: "Running checks",
  submitted: "Submitted",
  no_change: "No change needed",
  failed: "Failed",
  stopped: "Stopped",
  lost: "Lost",
};

/** The tone a badge takes: one palette for every kind of state. */
export type Tone = "neutral" | "info" | "progress" | "success" | "warning" | "danger";

const tones: Record<string, Tone> = {
  received: "info",
  needs_clarification: "warning",
  needs_attention: "warning",
  planned: "info",
  in_progress: "progress",
  done: "success",
  failed: "danger",
  cancelled: "neutral",
  rolled_back: "danger",
  queued: "info",
  applying: "progress",
  checking: "progress",
  ready: "progress",
  awaiting_approval: "warning",
  qa_required: "warning",
  merged: "success",
  retry_wait: "warning",
  quarantined: "danger",
  rejected: "neutral",
  pending: "info",
  claimed: "progress",
  submitted: "progress",
  triage: "warning",
  superseded: "neutral",
  starting: "progress",
  running: "progress",
  stopped: "neutral",
  no_change: "success",
  lost: "danger",
  applied: "success",
  refused: "danger",
};

export function toneOf(state: string): Tone {
  return tones[state] ?? "neutral";
}

/** Any state's label; an unknown name reads as itself with spaces, never as nothing. */
export function stateLabel(state: string): string {
  return (
    (requestStatusLabels as Record<string, string>)[state] ??
    (entryStateLabels as Record<string, string>)[state] ??
    taskStateLabels[state] ??
    runStateLabels[state] ??
    (metaStateLabels as Record<string, string>)[state] ??
    state.replaceAll("_", " ")
  );
}

/** A remote's failure in the words an operator acts on (server/git/remote.ts). */
export const remoteFailureWords: Record<"unreachable" | "auth" | "no-branch" | "refused", string> =
  {
    unreachable: "unreachable",
    auth: "authentication failed",
    "no-branch": "no such branch",
    refused: "refused the push",
  };

/**
 * A recorded reason as people read it. Rows written before every rejection carried a reason end
 * in a bare colon ("change rejected: "); those say that none was given instead of trailing off.
 */
export function reasonText(reason: string): string {
  const trimmed = reason.trimEnd();
  return trimmed.endsWith(":") ? `${trimmed.slice(0, -1)}; no reason was given` : trimmed;
}
