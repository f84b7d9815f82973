import { randomUUID } from "node:crypto";
import { and, isNull } from "drizzle-orm";
import type { AlertRule } from "@/schemas/alerts";
import type { Db } from "@/server/db/client";
import { alerts } from "@/server/db/schema";
import { log } from "@/server/log";
import { type AlertRow, fireAlert, resolveAlert } from "@/server/state/alerts/store";
import { firings } from "./conditions";
import { ruleKeys } from "./rules";

/** Tries of one delivery before it is dead-lettered. */
export const MAX_ATTEMPTS = 5;

/**
 * One pass over the config's alert rules: each condition that holds for a subject is stored
 * once (its dedupe key is unique: a pass on another worker host, or the next pass here, finds
 * it there and stores nothing), with a pending delivery per webhook; an open alert whose
 * condition no longer holds is resolved. Returns the alerts this pass fired.
 */
export async function evaluateAlerts(
  db: Db,
  rules: readonly AlertRule[],
  opts: { now?: number; self?: string; maxAttempts?: number } = {},
): Promise<AlertRow[]> {
  const now = opts.now ?? Date.now();
  const keys = ruleKeys(rules);
  const fired: AlertRow[] = [];
  const open = await db
    .select()
    .from(alerts)
    .where(and(isNull(alerts.resolvedAt)));
  const holding = new Set<string>();
  for (const [i, rule] of rules.entries()) {
    const ruleKey = keys[i] as string;
    let found: Awaited<ReturnType<typeof firings>>;
    try {
      found = await firings(db, rule, { now, ...(opts.self ? { self: opts.self } : {}) });
    } catch (err) {
      // One rule's trouble does not keep the others from being checked; its alerts stay open.
      log.warn({ rule: ruleKey, error: (err as Error).message }, "alert rule not checked");
      for (const a of open) if (a.ruleKey === ruleKey) holding.add(a.dedupeKey);
      continue;
    }
    for (const f of found) {
      const dedupeKey = `${ruleKey}|${f.subjectType}:${f.subjectId}|${f.episode}`;
      holding.add(dedupeKey);
      if (open.some((a) => a.dedupeKey === dedupeKey)) continue;
      const row = await fireAlert(
        db,
        {
          dedupeKey,
          ruleKey,
          kind: rule.kind,
          subjectType: f.subjectType,
          subjectId: f.subjectId,
          repo: f.repo,
          requestId: f.requestId,
          summary: f.summary.slice(0, 1000),
          detail: f.detail,
          firedAt: now,
        },
        rule.webhooks.map((w) => ({
          url: w.url,
          format: w.format,
          messageId: `msg_${randomUUID().replaceAll("-", "")}`,
        })),
        opts.maxAttempts ?? MAX_ATTEMPTS,
      );
      if (row) {
        fired.push(row);
        log.info({ alert: row.id, kind: row.kind, subject: row.subjectId }, "alert fired");
      }
    }
  }
  // Cleared conditions, and alerts of rules no longer in the config, are resolved.
  for (const a of open) if (!holding.has(a.dedupeKey)) await resolveAlert(db, a.id, now);
  return fired;
}
