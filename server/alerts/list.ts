import { and, count, desc, inArray, isNull, lt } from "drizzle-orm";
import type { DbLike } from "@/server/db/client";
import { alertDeliveries, alerts } from "@/server/db/schema";

/** A webhook's address as shown: its origin alone (a path may carry a token, as Slack's do). */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    return u.pathname && u.pathname !== "/" ? `${u.origin}/…` : u.origin;
  } catch {
    return "(not a URL)";
  }
}

/** Alerts newest first, each with its deliveries (attempts, last status or error, dead ones). */
export async function listAlerts(db: DbLike, opts: { limit?: number; before?: number } = {}) {
  const limit = Math.min(Math.max(opts.limit ?? 50, 1), 200);
  const rows = await db
    .select()
    .from(alerts)
    .where(opts.before ? lt(alerts.id, opts.before) : undefined)
    .orderBy(desc(alerts.id))
    .limit(limit);
  const deliveries = rows.length
    ? await db
        .select()
        .from(alertDeliveries)
        .where(
          inArray(
            alertDeliveries.alertId,
            rows.map((r) => r.id),
          ),
        )
        .orderBy(alertDeliveries.id)
    : [];
  return {
    alerts: rows.map((a) => ({
      id: a.id,
      kind: a.kind,
      summary: a.summary,
      subjectType: a.subjectType,
      subjectId: a.subjectId,
      repo: a.repo,
      requestId: a.requestId,
      firedAt: a.firedAt,
      resolvedAt: a.resolvedAt,
      deliveries: deliveries
        .filter((d) => d.alertId === a.id)
        .map((d) => ({
          id: d.id,
          target: shownUrl(d.url),
          format: d.format,
          state: d.state,
          attempts: d.attempts,
          maxAttempts: d.maxAttempts,
          lastStatus: d.lastStatus,
          lastError: d.lastError,
          nextAttemptAt: d.state === "retrying" ? d.nextAttemptAt : null,
          updatedAt: d.updatedAt,
        })),
    })),
    nextBefore: rows.length === limit ? (rows[rows.length - 1]?.id ?? null) : null,
  };
}

/** The header's count: alerts that fired and have not cleared. */
export async function openAlertCount(db: DbLike): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(alerts)
    .where(and(isNull(alerts.resolvedAt)));
  return Number(row?.n ?? 0);
}

export type AlertList = Awaited<ReturnType<typeof listAlerts>>;
