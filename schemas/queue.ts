import { z } from "zod";

export const entryStates = [
  "queued",
  "applying",
  "checking",
  "ready",
  "awaiting_approval",
  /** Its request's kind wants manual QA (policy.qa.kinds): it waits for a person's pass or fail. */
  "qa_required",
  "in_review",
  "merged",
  "retry_wait",
  "quarantined",
  "rejected",
  "rolled_back",
] as const;
export const EntryState = z.enum(entryStates);
export type EntryState = z.infer<typeof EntryState>;

export const errorKinds = [
  "conflict",
  "apply_failed",
  "check_failed",
  "check_timeout",
  "lease_expired",
  "worktree_dirty",
  "ref_locked",
  "remote_unreachable",
  "remote_auth",
  "remote_refused",
  "review_rejected",
  "qa_failed",
  "internal",
] as const;

/** What went wrong with an entry, kept structured so the UI can say what to do. */
export const EntryError = z.object({
  kind: z.enum(errorKinds),
  message: z.string(),
  paths: z.array(z.string()).default([]),
  outputTail: z.string().optional(),
});
export type EntryError = z.infer<typeof EntryError>;
