import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { AlertDeliveryState } from "@/schemas/alert-delivery-state";
import type { AlertKind } from "@/schemas/alerts";

/**
 * Each alert that fired (server/alerts): stored once per rule and subject — `dedupeKey` is
 * unique, so several worker hosts on one database insert it once — and resolved when its
 * condition clears.
 */
export const alerts = sqliteTable(
  "alerts",
  {
    id: integer().primaryKey({ autoIncrement: true }),
    /** The rule, its subject and the episode (e.g. the entry and when it was quarantined). */
    dedupeKey: text("dedupe_key").notNull(),
    /** Which rule of the config fired it: a digest of the rule without its secrets. */
    ruleKey: text("rule_key").notNull(),
    kind: text().$type<AlertKind>().notNull(),
    /** What it is about: an entry (Q7), a verification, a worker host, a remote. */
    subjectType: text("subject_type")
      .$type<"entry" | "verification" | "host" | "remote">()
      .notNull(),
    subjectId: text("subject_id").notNull(),
    repo: text(),
    /** The request the entry was filed for, when there is one (R12). */
    requestId: integer("request_id"),
    summary: text().notNull(),
    detail: text({ mode: "json" }).$type<Record<string, unknown>>().notNull().default({}),
    firedAt: integer("fired_at").notNull(),
    resolvedAt: integer("resolved_at"),
  },
  (t) => [
    uniqueIndex("alerts_dedupe_idx").on(t.dedupeKey),
    index("alerts_open_idx").on(t.resolvedAt, t.ruleKey),
  ],
);

/**
 * One webhook delivery of an alert: a state machine (server/state/alerts) — pending → sending
 * → delivered | retrying → … → dead. `sending` is leased to one worker, so no two send it.
 */
export const alertDeliveries = sqliteTable(
  "alert_deliveries",
  {
    id: integer().primaryKey({ autoIncrement: true }),
    alertId: integer("alert_id")
      .notNull()
      .references(() => alerts.id),
    /** The webhook-id header: the same on every try, so a receiver can drop a repeat. */
    messageId: text("message_id").notNull(),
    url: text().notNull(),
    format: text().$type<"standard" | "slack">().notNull(),
    state: text().$type<AlertDeliveryState>().notNull(),
    attempts: integer().notNull().default(0),
    maxAttempts: integer("max_attempts").notNull(),
    nextAttemptAt: integer("next_attempt_at").notNull(),
    leaseOwner: text("lease_owner"),
    leaseExpiresAt: integer("lease_expires_at"),
    /** The receiver's last HTTP status, and what went wrong in words (never a secret). */
    lastStatus: integer("last_status"),
    lastError: text("last_error"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    finishedAt: integer("finished_at"),
  },
  (t) => [
    uniqueIndex("alert_deliveries_target_idx").on(t.alertId, t.url),
    uniqueIndex("alert_deliveries_message_idx").on(t.messageId),
    index("alert_deliveries_due_idx").on(t.state, t.nextAttemptAt),
  ],
);
