import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import type { VerificationState } from "@/schemas/verification-state";

/**
 * Post-merge verification of a target branch (policy.postMerge): one row per run of the
 * policy's post-merge checks over what landed since the last green run, and its outcome —
 * passed, a culprit found by bisection (and its revert queued), or a flaky failure.
 */
export const verifications = sqliteTable(
  "verifications",
  {
    id: integer().primaryKey({ autoIncrement: true }),
    repo: text().notNull(),
    targetBranch: text("target_branch").notNull(),
    /** The last commit that passed (the bisection's good end); null on the first run. */
    goodCommit: text("good_commit"),
    /** The tip that was checked. */
    headCommit: text("head_commit").notNull(),
    state: text().$type<VerificationState>().notNull(),
    culpritCommit: text("culprit_commit"),
    culpritEntryId: integer("culprit_entry_id"),
    revertEntryId: integer("revert_entry_id"),
    /** The failing checks' output (tail), and the commits tried with their verdicts. */
    output: text(),
    steps: text({ mode: "json" })
      .$type<{ commit: string; ok: boolean; note?: string }[]>()
      .notNull()
      .default([]),
    createdAt: integer("created_at").notNull(),
    finishedAt: integer("finished_at"),
  },
  (t) => [index("verifications_repo_idx").on(t.repo, t.targetBranch, t.id)],
);
