import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Log shipping (server/backup/shipping.ts): for each audit log shipped (`change_queue_logs`,
 * `events`), the last id a durably written segment holds, and the worker host shipping it now
 * (a lease, so several worker hosts never ship one log twice).
 */
export const logShipments = sqliteTable("log_shipments", {
  /** The table shipped: "change_queue_logs" or "events". */
  stream: text().primaryKey(),
  /** The last id in a segment written, fsynced and renamed into the folder; 0 before any. */
  lastId: integer("last_id").notNull(),
  /** The last segment's file name. */
  segment: text(),
  /** Who holds the lease, and until when (ms since the epoch). */
  owner: text(),
  leaseExpiresAt: integer("lease_expires_at"),
  updatedAt: integer("updated_at").notNull(),
});
