import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * An admin's approval of one text of a repository's plan file (policy `plan`): the sha256 of
 * the bytes approved and the text itself, so the next change can be shown as a diff against it.
 * Append-only; a repository's newest row is its approved plan. A plan whose current text hashes
 * otherwise is not approved (server/plan).
 */
export const planApprovals = sqliteTable(
  "plan_approvals",
  {
    id: integer().primaryKey({ autoIncrement: true }),
    repo: text().notNull(),
    /** The plan file's path in the repository when it was approved. */
    path: text().notNull(),
    textHash: text("text_hash").notNull(),
    text: text().notNull(),
    /** The tip of the target branch the approved text was read from. */
    commitId: text("commit_id").notNull(),
    approvedBy: integer("approved_by").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("plan_approvals_repo_idx").on(t.repo, t.id)],
);
