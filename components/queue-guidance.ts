import type { EntryError } from "@/schemas/queue";

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
    case "worktree_dirty":
      return `${error.message}. Then retry.`;
    default:
      return `${error.message}. Retry; if it happens again, run the worker with HYPERION_LOG=1 and read its log.`;
  }
}
