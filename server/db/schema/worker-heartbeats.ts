import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const workerHeartbeats = sqliteTable("worker_heartbeats", {
  id: text().primaryKey(),
  pid: integer().notNull(),
  host: text().notNull(),
  startedAt: integer("started_at").notNull(),
  beatAt: integer("beat_at").notNull(),
  stoppedAt: integer("stopped_at"),
  /** A supervisor process, or one of its queue threads (then `parentId` is the supervisor). */
  role: text().$type<"supervisor" | "thread">().notNull().default("supervisor"),
  parentId: text("parent_id"),
  currentEntryId: integer("current_entry_id"),
});
