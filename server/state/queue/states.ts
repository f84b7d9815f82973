import type { EntryError, EntryState } from "@/schemas/queue";
import { defineMachine } from "@/server/state/machine";

/** A move the table does not list; nothing was written. */
export class IllegalTransitionError extends Error {
  override name = "IllegalTransitionError";
}

/**
 * The merge queue's legal moves, in one place. Every move in ./store.ts goes through
 * `entryMachine.move`, which refuses anything not listed here; the store writes the
 * change_queue_logs row for every move it makes, in the move's transaction.
 *
 *   queued → applying → (checking →) ready → merged → rolled_back
 *   checking/ready → applying  (the tip, or a batch stacked under it, changed: rebuilt)
 *   applying/checking/ready → retry_wait → applying …  (conflict, moved tip, crash)
 *   applying/checking/ready/retry_wait → quarantined → queued  (operator retry)
 *   applying → rejected  (a patch that can never apply, e.g. unknown base)
 *   queued/retry_wait/quarantined → rejected  (its request was cancelled)
 *   applying/ready → awaiting_approval → queued  (its risk's tier wants approvals; they came)
 *   awaiting_approval → rejected  (a reviewer rejected it, or its request was cancelled)
 *   applying/ready → qa_required → queued | rejected  (its request's kind wants manual QA: a
 *     person passed it, or failed it with notes, or its request was cancelled)
 *   ready → in_review → merged | rejected  (land "pull-request": the forge merges or closes it)
 *   applying/checking/ready → queued  (a lease released on shutdown or expired)
 *
 * A worker's moves need its lease (`transition`); the claim takes one (`claimNext`); the
 * operator's retry and the rollback marking move entries nobody leases (`moveUnleased`).
 */
export const entryMachine = defineMachine<EntryState>({
  name: "queue",
  illegal: (message) => new IllegalTransitionError(message),
  moves: {
    queued: ["applying", "rejected"],
    applying: [
      "checking",
      "ready",
      "awaiting_approval",
      "qa_required",
      "merged",
      "retry_wait",
      "quarantined",
      "rejected",
      "queued",
    ],
    // checking → applying: in the pipeline, a batch ahead of it failed, so it is stacked again.
    checking: ["ready", "applying", "retry_wait", "quarantined", "queued"],
    // ready → applying: the tip moved under the compare-and-swap, so rebase and try again.
    ready: [
      "merged",
      "in_review",
      "applying",
      "awaiting_approval",
      "qa_required",
      "retry_wait",
      "quarantined",
      "queued",
    ],
    // Nobody leases it while it waits: a reviewer's decision moves it (approvals/service.ts).
    awaiting_approval: ["queued", "rejected"],
    // Nobody leases it while it waits for manual QA: a person's pass or fail moves it (qa/service.ts).
    qa_required: ["queued", "rejected"],
    // A pull request open on the forge: its merge or close is recorded (remotes/forge.ts).
    in_review: ["merged", "rejected"],
    retry_wait: ["applying", "quarantined", "rejected"],
    merged: ["rolled_back"],
    quarantined: ["queued", "rejected"],
    rejected: [],
    rolled_back: [],
  },
});

/** States in which a worker holds the entry under a lease. */
export const leasedStates: readonly EntryState[] = ["applying", "checking", "ready"];
/** States a worker may claim from. */
export const claimableStates: readonly EntryState[] = ["queued", "retry_wait"];
/** States in which an entry still waits to land; later entries on the same paths wait for it. */
export const pendingStates: readonly EntryState[] = [...claimableStates, ...leasedStates];
/** States in which an entry holds its paths: a later entry on a common path waits for it. An
 * entry waiting for a reviewer holds them too (its patch is bound to the approval, and a later
 * change to its files landing first would land out of order and void it); disjoint ones go on. */
export const holdingStates: readonly EntryState[] = [
  ...pendingStates,
  "awaiting_approval",
  // An entry waiting for manual QA holds them the same way: its candidate is what is tested.
  "qa_required",
  // A pull request open on the forge holds its paths the same way, until it is merged or closed.
  "in_review",
];

/** Failures that are no fault of the change, such as another writer's lock on the branch: the
 * attempt they used is given back, so they never quarantine an entry. */
export const attemptFreeErrors: readonly EntryError["kind"][] = [
  "ref_locked",
  // A remote's server that is down, does not know us, or refuses: the change is not at fault.
  // It waits (retries backing off to HYPERION_BACKOFF_MAX_MS) and lands once the server is back.
  "remote_unreachable",
  "remote_auth",
  "remote_refused",
];
