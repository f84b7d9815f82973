import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * The append-only event log. Live views poll it by id, so one mechanism carries events from
 * every process (web, CLI, worker) to every browser, and a reconnect resumes by id.
 */
export const events = sqliteTable(
  "events",
  {
    id: integer().primaryKey({ autoIncrement: true }),
    topic: text().notNull(),
    type: text().notNull(),
    entityId: integer("entity_id"),
    payload: text({ mode: "json" }).$type<unknown>().notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("events_topic_id_idx").on(t.topic, t.id)],
);
