import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import type { RequestStatus } from "@/schemas/request-status";
import type { TaskRequest } from "@/schemas/task-request";
import { users } from "./users";

export const requests = sqliteTable(
  "requests",
  {
    id: integer().primaryKey({ autoIncrement: true }),
    title: text().notNull(),
    description: text().notNull(),
    repo: text().notNull(),
    kind: text().$type<NonNullable<TaskRequest["kind"]>>(),
    priority: text().$type<TaskRequest["priority"]>().notNull(),
    areas: text({ mode: "json" }).$type<string[]>().notNull(),
    files: text({ mode: "json" }).$type<string[]>().notNull(),
    dependsOn: text("depends_on", { mode: "json" }).$type<number[]>().notNull(),
    acceptance: text({ mode: "json" }).$type<string[]>().notNull(),
    /** Names of the policy's checks the requester asked to run on the change (TaskRequest.checks). */
    checks: text({ mode: "json" }).$type<string[]>().notNull().default([]),
    status: text().$type<RequestStatus>().notNull(),
    requesterId: integer("requester_id")
      .notNull()
      .references(() => users.id),
    source: text().$type<"web" | "cli" | "api" | "inbox" | "github">().notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    /**
     * The W3C traceparent of the request's trace (server/trace.ts), set as it is filed: the
     * worker's spans and the agents' runs continue it. Null for requests filed before.
     */
    traceParent: text("trace_parent"),
  },
  (t) => [
    // The history lists newest first by id; SQLite appends the rowid to each index, so these
    // serve "WHERE status = ? ORDER BY id DESC" without a sort.
    index("requests_status_idx").on(t.status),
    index("requests_repo_idx").on(t.repo),
    // History's other two orders page by (key, id) without scanning the table.
    index("requests_updated_idx").on(t.updatedAt, t.id),
    index("requests_title_idx").on(sql`${t.title} COLLATE NOCASE`, t.id),
  ],
);
