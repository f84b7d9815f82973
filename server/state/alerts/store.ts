import { and, eq, isNull, lt, lte } from "drizzle-orm";
import type { AlertDeliveryState } from "@/schemas/alert-delivery-state";
import type { DbLike } from "@/server/db/client";
import { alertDeliveries, alerts } from "@/server/db/schema";
import { appendEvent } from "@/server/events/log";
import { DeliveryMoveConflict, deliveryMachine } from "./states";

export { DeliveryMoveConflict };

export type AlertRow = typeof alerts.$inferSelect;
export type DeliveryRow = typeof alertDeliveries.$inferSelect;

export type NewAlert = Omit<AlertRow, "id" | "resolvedAt">;

/**
 * Stores an alert once: the insert is ignored when its dedupe key is already there (another
 * worker host, or an earlier pass, fired it). When this call stored it, its deliveries start
 * `pending`, one per webhook, with the `alert.fired` event, all in one transaction. Returns the
 * new row, or null when the alert was already known.
 */
export async function fireAlert(
  db: DbLike,
  alert: NewAlert,
  webhooks: readonly { url: string; format: "standard" | "slack"; messageId: string }[],
  maxAttempts: number,
): Promise<AlertRow | null> {
  return await db.transaction(async (tx) => {
    const [row] = await tx
      .insert(alerts)
      .values(alert)
      .onConflictDoNothing({ target: alerts.dedupeKey })
      .returning();
    if (!row) return null;
    for (const w of webhooks)
      await tx.insert(alertDeliveries).values({
        alertId: row.id,
        messageId: w.messageId,
        url: w.url,
        format: w.format,
        state: "pending",
        attempts: 0,
        maxAttempts,
        nextAttemptAt: alert.firedAt,
        createdAt: alert.firedAt,
        updatedAt: alert.firedAt,
      });
    await appendEvent(tx, {
      topic: "alert",
      type: "alert.fired",
      entityId: row.id,
      payload: {
        id: row.id,
        kind: row.kind,
        summary: row.summary,
        subjectType: row.subjectType,
        subjectId: row.subjectId,
        repo: row.repo,
        webhooks: webhooks.length,
      },
    });
    return row;
  });
}

/** Marks an open alert resolved (its condition cleared), once, with the `alert.resolved` event. */
export async function resolveAlert(db: DbLike, id: number, now: number): Promise<boolean> {
  return await db.transaction(async (tx) => {
    const [row] = await tx
      .update(alerts)
      .set({ resolvedAt: now })
      .where(and(eq(alerts.id, id), isNull(alerts.resolvedAt)))
      .returning();
    if (!row) return false;
    await appendEvent(tx, {
      topic: "alert",
      type: "alert.resolved",
      entityId: id,
      payload: { id, kind: row.kind, summary: row.summary },
    });
    return true;
  });
}

type Fields = Partial<
  Pick<
    DeliveryRow,
    | "attempts"
    | "nextAttemptAt"
    | "leaseOwner"
    | "leaseExpiresAt"
    | "lastStatus"
    | "lastError"
    | "finishedAt"
  >
>;

/**
 * The one way a delivery changes state, through `deliveryMachine.move`: checks the move against
 * ./states.ts, updates the row only if it is still in `from` — and, leaving `sending`, still
 * leased to `owner` (or, with `leaseLapsedBefore`, its lease ran out before then: a dead
 * worker's) — and appends the `delivery.<to>` event in the same transaction.
 */
export async function moveDelivery(
  db: DbLike,
  move: {
    id: number;
    from: AlertDeliveryState;
    to: AlertDeliveryState;
    owner?: string;
    leaseLapsedBefore?: number;
    /** Guards a claim: the try must be due by then. */
    dueBy?: number;
    set?: Fields;
    now?: number;
  },
): Promise<DeliveryRow> {
  const now = move.now ?? Date.now();
  const guards = [eq(alertDeliveries.id, move.id), eq(alertDeliveries.state, move.from)];
  if (move.from === "sending") {
    if (move.leaseLapsedBefore !== undefined)
      guards.push(lt(alertDeliveries.leaseExpiresAt, move.leaseLapsedBefore));
    else if (move.owner) guards.push(eq(alertDeliveries.leaseOwner, move.owner));
  }
  if (move.dueBy !== undefined) guards.push(lte(alertDeliveries.nextAttemptAt, move.dueBy));
  return deliveryMachine.move(db, {
    from: move.from,
    to: move.to,
    subject: `delivery ${move.id}`,
    swap: async (tx) =>
      (
        await tx
          .update(alertDeliveries)
          .set({
            ...move.set,
            state: move.to,
            updatedAt: now,
            ...(move.to === "delivered" || move.to === "dead" ? { finishedAt: now } : {}),
            ...(move.to !== "sending" ? { leaseOwner: null, leaseExpiresAt: null } : {}),
          })
          .where(and(...guards))
          .returning()
      )[0],
    refused: async (tx) => {
      const [found] = await tx
        .select({ state: alertDeliveries.state, owner: alertDeliveries.leaseOwner })
        .from(alertDeliveries)
        .where(eq(alertDeliveries.id, move.id))
        .limit(1);
      return new DeliveryMoveConflict(
        `delivery ${move.id}: expected ${move.from}${move.owner ? ` held by ${move.owner}` : ""}, found ${found ? `${found.state}${found.owner ? ` held by ${found.owner}` : ""}` : "no delivery"}; ${move.from} → ${move.to} not made`,
      );
    },
    record: async (tx, row) =>
      appendEvent(tx, {
        topic: "alert",
        type: `delivery.${move.to}`,
        entityId: row.alertId,
        payload: {
          delivery: row.id,
          alert: row.alertId,
          from: move.from,
          to: move.to,
          attempts: row.attempts,
          ...(row.lastStatus !== null ? { status: row.lastStatus } : {}),
          ...(row.lastError ? { error: row.lastError } : {}),
          ...(move.owner ? { owner: move.owner } : {}),
        },
      }),
  });
}
