import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { requests } from "./requests";

/**
 * Each webhook delivery GitHub sent, by its X-GitHub-Delivery id: stored when it arrives (the
 * reply goes out at once) and handled after by the worker, once however often it is redelivered.
 */
export const githubDeliveries = sqliteTable(
  "github_deliveries",
  {
    id: text().primaryKey(),
    event: text().notNull(),
    action: text(),
    repo: text(),
    payload: text().notNull(),
    state: text().$type<"queued" | "handled" | "ignored" | "failed">().notNull(),
    note: text(),
    receivedAt: integer("received_at").notNull(),
    handledAt: integer("handled_at"),
  },
  (t) => [index("github_deliveries_state_idx").on(t.state, t.receivedAt)],
);

/**
 * An issue Hyperion took work from: the request it became (or why it could not), and the one
 * status comment Hyperion keeps on it, edited in place.
 */
export const githubIssues = sqliteTable(
  "github_issues",
  {
    id: integer().primaryKey({ autoIncrement: true }),
    /** owner/name on GitHub. */
    githubRepo: text("github_repo").notNull(),
    number: integer().notNull(),
    url: text().notNull(),
    requestId: integer("request_id").references(() => requests.id),
    /** Why the issue could not become a request (shown in its comment), when it could not. */
    refusal: text(),
    commentId: integer("comment_id"),
    /** The comment's text as last posted: it is edited only when what it says changed. */
    posted: text(),
    closed: integer({ mode: "boolean" }).notNull().default(false),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [uniqueIndex("github_issues_issue_idx").on(t.githubRepo, t.number)],
);
