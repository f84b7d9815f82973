import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * What Hyperion last learned of each remote repository's server: the tip it fetched or pushed,
 * when, and the last failure in words (unreachable, authentication failed, refused…), cleared by
 * the next success. Written by the worker; read by /queue, the repository pages and `status`.
 */
export const remotes = sqliteTable("remotes", {
  repo: text().primaryKey(),
  url: text().notNull(),
  tip: text(),
  fetchedAt: integer("fetched_at"),
  pushedAt: integer("pushed_at"),
  failure: text().$type<"unreachable" | "auth" | "no-branch" | "refused">(),
  failureMessage: text("failure_message"),
  failedAt: integer("failed_at"),
  updatedAt: integer("updated_at").notNull(),
});
