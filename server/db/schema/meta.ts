import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { MetaKind, MetaState } from "@/schemas/meta";

/**
 * The workspace meta queue: what crosses repositories (a dependency between requests, an
 * operator's priority or pause, a cancel or restart, a QA escalation, steering for a run), one
 * row per source event id — a second delivery of the same id finds this row and changes
 * nothing. Its moves are in server/state/meta/states.ts, written only by
 * server/state/meta/store.ts. `effect` says what it did (applied), why not (refused), or what it
 * waits for (pending).
 */
export const metaItems = sqliteTable(
  "meta_items",
  {
    id: integer().primaryKey({ autoIncrement: true }),
    sourceEventId: text("source_event_id").notNull(),
    kind: text().$type<MetaKind>().notNull(),
    state: text().$type<MetaState>().notNull(),
    /** The repository it concerns (a request's, a pause's), for the page and the dispatcher. */
    repo: text(),
    requestId: integer("request_id"),
    /** The item as submitted, parsed (schemas/meta.ts), without its source event id. */
    payload: text({ mode: "json" }).$type<Record<string, unknown>>().notNull(),
    effect: text(),
    /** Who submitted it: a user's address, or `system` for the QA gate's escalations. */
    by: text().notNull(),
    userId: integer("user_id"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("meta_items_source_idx").on(t.sourceEventId),
    index("meta_items_state_kind_idx").on(t.state, t.kind),
    index("meta_items_request_idx").on(t.requestId),
  ],
);
