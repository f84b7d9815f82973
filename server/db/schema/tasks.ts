import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { requests } from "./requests";

/**
 * A unit of work a change belongs to. The planner fills this from requests; a change submitted
 * without a task gets an ad-hoc one so every change stays traceable.
 */
export const tasks = sqliteTable("tasks", {
  id: text().primaryKey(),
  requestId: integer("request_id").references(() => requests.id),
  repo: text().notNull(),
  title: text().notNull(),
  source: text().$type<"planner" | "adhoc">().notNull(),
  createdAt: integer("created_at").notNull(),
});
