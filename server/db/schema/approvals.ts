import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import type { AgentName } from "@/schemas/agents";

/**
 * A reviewer's decision on one queue entry, bound to the exact patch it judged (sha256 of the
 * change request's patch). Append-only; `voidedReason` is set when a newer patch for the same
 * task replaced the one approved.
 */
export const approvals = sqliteTable(
  "approvals",
  {
    id: integer().primaryKey({ autoIncrement: true }),
    entryId: integer("entry_id").notNull(),
    changeRequestId: integer("change_request_id").notNull(),
    taskId: text("task_id").notNull(),
    patchHash: text("patch_hash").notNull(),
    reviewerId: integer("reviewer_id").notNull(),
    decision: text().$type<"approved" | "rejected">().notNull(),
    comment: text().notNull().default(""),
    /** For a rejection: whether the task went back to the Orchestrator or was closed. */
    next: text("next_step").$type<"redispatch" | "close">(),
    /** For a rejection sent back: the agent the reviewer handed the task to, if one was named. */
    agent: text().$type<AgentName>(),
    /** Whether the whole diff had been shown to this reviewer when they decided. */
    diffShown: integer("diff_shown", { mode: "boolean" }).notNull(),
    voidedReason: text("voided_reason"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("approvals_entry_idx").on(t.entryId), index("approvals_task_idx").on(t.taskId)],
);

/** That the whole diff of a patch was served to a user: what a `high` approval requires. */
export const diffViews = sqliteTable(
  "diff_views",
  {
    id: integer().primaryKey({ autoIncrement: true }),
    changeRequestId: integer("change_request_id").notNull(),
    patchHash: text("patch_hash").notNull(),
    userId: integer("user_id").notNull(),
    at: integer().notNull(),
  },
  (t) => [index("diff_views_lookup_idx").on(t.changeRequestId, t.userId)],
);

/**
 * A person's manual QA decision on one queue entry waiting in `qa_required`, bound to the exact
 * patch tested (as an approval is). A pass sends the entry back to the queue; a fail rejects it
 * and reopens its task with the notes in its next prompt (server/qa/service.ts). Append-only.
 */
export const qaDecisions = sqliteTable(
  "qa_decisions",
  {
    id: integer().primaryKey({ autoIncrement: true }),
    entryId: integer("entry_id").notNull(),
    changeRequestId: integer("change_request_id").notNull(),
    taskId: text("task_id"),
    patchHash: text("patch_hash").notNull(),
    userId: integer("user_id").notNull(),
    decision: text().$type<"passed" | "failed">().notNull(),
    notes: text().notNull().default(""),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    index("qa_decisions_entry_idx").on(t.entryId),
    index("qa_decisions_task_idx").on(t.taskId),
  ],
);
