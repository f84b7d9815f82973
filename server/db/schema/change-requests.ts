import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import type { risks } from "@/schemas/change-request";
import { tasks } from "./tasks";

export const changeRequests = sqliteTable("change_requests", {
  id: integer().primaryKey({ autoIncrement: true }),
  taskId: text("task_id")
    .notNull()
    .references(() => tasks.id),
  repo: text().notNull(),
  targetBranch: text("target_branch").notNull(),
  baseCommit: text("base_commit"),
  patch: text().notNull(),
  summary: text().notNull(),
  authorName: text("author_name").notNull(),
  authorEmail: text("author_email").notNull(),
  checks: text({ mode: "json" }).$type<string[]>().notNull(),
  risk: text().$type<(typeof risks)[number]>().notNull(),
  dryRun: integer("dry_run", { mode: "boolean" }).notNull(),
  /** Set on a rollback: the change request it reverts. */
  revertOf: integer("revert_of"),
  /** The agent run that made it, when an agent did (agent_runs.id). */
  runId: integer("run_id"),
  createdAt: integer("created_at").notNull(),
});
