import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const workerHeartbeats = sqliteTable("worker_heartbeats", {
  id: text().primaryKey(),
  pid: integer().notNull(),
  host: text().notNull(),
  startedAt: integer("started_at").notNull(),
  beatAt: integer("beat_at").notNull(),
  stoppedAt: integer("stopped_at"),
});
