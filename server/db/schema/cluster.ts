import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Facts every host of one install must agree on, written by the first host that starts: the
 * fingerprint of the session key (web hosts behind one load balancer must sign sessions with
 * the same key, or a session made on one is refused by the next).
 */
export const clusterFacts = sqliteTable("cluster_facts", {
  key: text().primaryKey(),
  value: text().notNull(),
  /** The host that wrote it, for the message a disagreeing host gets. */
  host: text().notNull(),
  updatedAt: integer("updated_at").notNull(),
});
