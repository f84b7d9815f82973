import { stateLabel } from "@/schemas/labels";
import { type EntryError, entryStates } from "@/schemas/queue";
import type { QueueLogEvent } from "@/server/db/schema/queue";

/** What an operator should do about a quarantined entry, by the kind of its last error. */
export function guidance(error: EntryError | null, branch: string): string {
  if (!error) return "No error was recorded. Retry it.";
  const paths = error.paths.length ? ` (${error.paths.join(", ")})` : "";
  switch (error.kind) {
    case "conflict":
      return `The patch conflicts with ${branch}${paths}. Rebase the task's work onto the current ${branch} and submit it again, or roll back the change it collides with and retry.`;
    case "check_failed":
      return "A check failed on the candidate commit; nothing landed. Read the output, fix the change, then retry.";
    case "check_timeout":
      return "A check ran past its timeout (HYPERION_CHECK_TIMEOUT_MS). Make the check faster or raise the timeout, then retry.";
    case "apply_failed":
      return "The patch could not be applied as written (malformed, or it needs objects this repository lacks). Submit it again as `git diff --binary --full-index` output.";
    case "lease_expired":
      return "The worker stopped while holding this entry. Retry it; the queue checks whether it had already landed.";
    case "ref_locked":
      return `Another writer holds ${branch}'s lock file: ${error.message} The queue keeps retrying without using up attempts.`;
    case "remote_unreachable":
      return `${error.message}. The entry waits without using up attempts and lands once the server answers; /queue shows when it was last reached.`;
    case "remote_auth":
      return `${error.message}. Check the token or ssh key the repository's credentials name (docs/remotes.md); the entry waits and lands once they work.`;
    case "remote_refused":
      return `${error.message}. Allow Hyperion to push to ${branch} on the server (a branch protection or a hook refused it); the entry waits meanwhile.`;
    case "worktree_dirty":
      return `${error.message}. Then retry.`;
    default:
      return `${error.message}. Retry; if it happens again, run the worker with HYPERION_LOG=1 and read its log.`;
  }
}

/** A queue log row as the board holds it: the move, its entry and the entry's request. */
export type EventRow = { entryId: number; requestId: number | null; event: QueueLogEvent };

/** The event log's filters, kept in the URL (`?event=merged&q=Q7`). */
export type EventFilter = { event: string; q: string };
/** "failures": any move that recorded an error; otherwise the state the move went to. */
export const eventKinds = ["failures", ...entryStates] as const;

/** Does a log row pass the filter? `q` is an entry (Q7, 7), a request (R12) or any text. */
export function matchesEvent(row: EventRow, filter: EventFilter): boolean {
  if (
    filter.event === "failures" ? !row.event.error : filter.event && row.event.to !== filter.event
  )
    return false;
  const q = filter.q.trim();
  if (!q) return true;
  const entry = /^q?(\d+)$/i.exec(q);
  if (entry) return row.entryId === Number(entry[1]);
  const request = /^r(\d+)$/i.exec(q);
  if (request) return row.requestId === Number(request[1]);
  return eventText(row).toLowerCase().includes(q.toLowerCase());
}

export function eventText(row: EventRow): string {
  const e = row.event;
  return [
    `${e.from ? stateLabel(e.from) : "submitted"} → ${stateLabel(e.to)}`,
    e.worker,
    `attempt ${e.attempt}`,
    e.error?.kind,
  ]
    .filter(Boolean)
    .join(" · ");
}
