import { integer, sqliteTable } from "drizzle-orm/sqlite-core";
import { users } from "./users";

/**
 * How far each person has read their notifications. Notifications are not stored: they are
 * derived from the append-only `events` (a request's question, done, failed) and
 * `change_queue_logs` (a change waiting for approval); this row keeps the last id of each that
 * the person has seen, so "unread" is what came after.
 */
export const notificationMarks = sqliteTable("notification_marks", {
  userId: integer("user_id")
    .primaryKey()
    .references(() => users.id),
  eventsSeen: integer("events_seen").notNull().default(0),
  queueLogsSeen: integer("queue_logs_seen").notNull().default(0),
  updatedAt: integer("updated_at").notNull(),
});
