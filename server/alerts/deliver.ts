import { and, asc, eq, inArray, lt, lte } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { type AlertRule, type AlertWebhook, alertKindText } from "@/schemas/alerts";
import type { Db } from "@/server/db/client";
import { alertDeliveries, alerts } from "@/server/db/schema";
import { log } from "@/server/log";
import {
  type AlertRow,
  DeliveryMoveConflict,
  type DeliveryRow,
  moveDelivery,
} from "@/server/state/alerts/store";
import { ruleKeys } from "./rules";

/** The first retry waits this long; each next one four times longer, up to an hour. */
export const FIRST_BACKOFF_MS = 30_000;
export const MAX_BACKOFF_MS = 3_600_000;
/** How long a receiver has to answer one try. */
export const SEND_TIMEOUT_MS = 10_000;
/** What of a receiver's answer is read (for the error shown on /alerts); the rest is dropped. */
const MAX_ANSWER_BYTES = 2048;

export function backoffMs(attempt: number): number {
  return Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 4 ** Math.max(0, attempt - 1));
}

export type DeliverOptions = {
  owner: string;
  clock?: () => number;
  timeoutMs?: number;
  /** Hyperion's public URL (NEXTAUTH_URL): the message links to its /alerts page. */
  baseUrl?: string;
  limit?: number;
};

/**
 * Sends the deliveries that are due, each leased to `owner` while it is sent (`sending`, with a
 * lease longer than the try's timeout: two workers never send one delivery at once), then moved
 * to delivered, retrying (with backoff) or dead (its last try). A delivery left `sending` by a
 * worker that died is tried again once its lease ran out. Returns how many were tried.
 */
export async function deliverDue(
  db: Db,
  rules: readonly AlertRule[],
  opts: DeliverOptions,
): Promise<number> {
  const clock = opts.clock ?? Date.now;
  const timeoutMs = opts.timeoutMs ?? SEND_TIMEOUT_MS;
  await recoverLapsed(db, clock());
  const now = clock();
  const due = await db
    .select()
    .from(alertDeliveries)
    .where(
      and(
        inArray(alertDeliveries.state, ["pending", "retrying"]),
        lte(alertDeliveries.nextAttemptAt, now),
      ),
    )
    .orderBy(asc(alertDeliveries.nextAttemptAt), asc(alertDeliveries.id))
    .limit(opts.limit ?? 20);
  const keys = ruleKeys(rules);
  let tried = 0;
  for (const d of due) {
    const [alert] = await db.select().from(alerts).where(eq(alerts.id, d.alertId)).limit(1);
    if (!alert) continue;
    const i = keys.indexOf(alert.ruleKey);
    const webhook = i >= 0 ? rules[i]?.webhooks.find((w) => w.url === d.url) : undefined;
    if (!webhook) {
      await settle(db, d, "dead", { lastError: "the webhook is no longer in the config" }, clock());
      continue;
    }
    let claimed: DeliveryRow;
    try {
      const at = clock();
      claimed = await moveDelivery(db, {
        id: d.id,
        from: d.state,
        to: "sending",
        owner: opts.owner,
        dueBy: at,
        set: {
          attempts: d.attempts + 1,
          leaseOwner: opts.owner,
          leaseExpiresAt: at + timeoutMs + 30_000,
        },
        now: at,
      });
    } catch (err) {
      if (err instanceof DeliveryMoveConflict) continue; // another worker took it
      throw err;
    }
    tried++;
    const outcome = await send(alert, claimed, webhook, { timeoutMs, baseUrl: opts.baseUrl });
    const at = clock();
    if (outcome.ok) {
      await moveDelivery(db, {
        id: claimed.id,
        from: "sending",
        to: "delivered",
        owner: opts.owner,
        set: { lastStatus: outcome.status, lastError: null },
        now: at,
      }).catch(lost);
      continue;
    }
    const last = claimed.attempts >= claimed.maxAttempts;
    log.warn(
      {
        delivery: claimed.id,
        alert: alert.id,
        host: new URL(claimed.url).host,
        attempt: claimed.attempts,
        status: outcome.status,
        error: outcome.error,
      },
      last ? "alert delivery dead-lettered after its last try" : "alert delivery failed; retrying",
    );
    await moveDelivery(db, {
      id: claimed.id,
      from: "sending",
      to: last ? "dead" : "retrying",
      owner: opts.owner,
      set: {
        lastStatus: outcome.status,
        lastError: outcome.error,
        ...(last ? {} : { nextAttemptAt: at + backoffMs(claimed.attempts) }),
      },
      now: at,
    }).catch(lost);
  }
  return tried;
}

/** The worker that held it lost its lease meanwhile (it was judged dead): nothing to write. */
function lost(err: unknown) {
  if (err instanceof DeliveryMoveConflict) {
    log.warn({ error: err.message }, "alert delivery outcome not recorded");
    return;
  }
  throw err;
}

/** Deliveries a dead worker left `sending`: tried again (or dead-lettered, after the last try). */
async function recoverLapsed(db: Db, now: number) {
  const rows = await db
    .select()
    .from(alertDeliveries)
    .where(and(eq(alertDeliveries.state, "sending"), lt(alertDeliveries.leaseExpiresAt, now)));
  for (const d of rows) {
    const last = d.attempts >= d.maxAttempts;
    await moveDelivery(db, {
      id: d.id,
      from: "sending",
      to: last ? "dead" : "retrying",
      leaseLapsedBefore: now,
      set: {
        lastError: `the worker sending it (${d.leaseOwner ?? "unknown"}) stopped before it finished`,
        ...(last ? {} : { nextAttemptAt: now }),
      },
      now,
    }).catch((err) => {
      if (!(err instanceof DeliveryMoveConflict)) throw err;
    });
  }
}

async function settle(
  db: Db,
  d: DeliveryRow,
  to: "dead",
  set: { lastError: string },
  now: number,
): Promise<void> {
  await moveDelivery(db, { id: d.id, from: d.state, to, set, now }).catch((err) => {
    if (!(err instanceof DeliveryMoveConflict)) throw err;
  });
}

/** The body a webhook receives, by its format. */
export function deliveryBody(
  alert: AlertRow,
  format: AlertWebhook["format"],
  baseUrl?: string,
): string {
  const link = baseUrl ? `${baseUrl.replace(/\/+$/, "")}/alerts#alert-${alert.id}` : undefined;
  if (format === "slack") {
    const what = alertKindText[alert.kind];
    return JSON.stringify({
      text: `Hyperion alert: ${what}. ${alert.summary}${link ? ` <${link}|See alerts>` : ""}`,
    });
  }
  return JSON.stringify({
    type: "alert.fired",
    timestamp: new Date(alert.firedAt).toISOString(),
    data: {
      id: alert.id,
      kind: alert.kind,
      summary: alert.summary,
      subject: { type: alert.subjectType, id: alert.subjectId },
      repo: alert.repo,
      requestId: alert.requestId,
      firedAt: new Date(alert.firedAt).toISOString(),
      detail: alert.detail,
      ...(link ? { url: link } : {}),
    },
  });
}

type Outcome = { ok: true; status: number } | { ok: false; status: number | null; error: string };

/**
 * One try: a POST signed per Standard Webhooks (webhook-id, webhook-timestamp,
 * webhook-signature) when the webhook has a secret, bounded in time, never following a
 * redirect (a 3xx is a failure that names it), reading at most a little of the answer.
 */
async function send(
  alert: AlertRow,
  d: DeliveryRow,
  webhook: AlertWebhook,
  opts: { timeoutMs: number; baseUrl?: string | undefined },
): Promise<Outcome> {
  const body = deliveryBody(alert, webhook.format, opts.baseUrl);
  const sentAt = new Date();
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": "Hyperion-Alerts/1",
    "webhook-id": d.messageId,
    "webhook-timestamp": String(Math.floor(sentAt.getTime() / 1000)),
  };
  if (webhook.secret)
    headers["webhook-signature"] = new Webhook(webhook.secret).sign(d.messageId, sentAt, body);
  try {
    const res = await fetch(d.url, {
      method: "POST",
      headers,
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
    const answer = await readSome(res);
    if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
    if (res.status >= 300 && res.status < 400)
      return {
        ok: false,
        status: res.status,
        error: `answered with a redirect (${res.status}); Hyperion does not follow redirects: put the final URL in the config`,
      };
    return {
      ok: false,
      status: res.status,
      error: `answered ${res.status}${answer ? `: ${answer}` : ""}`,
    };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    if (e.name === "TimeoutError" || e.name === "AbortError")
      return { ok: false, status: null, error: `no answer within ${opts.timeoutMs / 1000} s` };
    return {
      ok: false,
      status: null,
      error: `could not be reached: ${e.cause?.code ?? e.cause?.message ?? e.message}`,
    };
  }
}

async function readSome(res: Response): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < MAX_ANSWER_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } catch {
    // What was read is enough.
  } finally {
    void reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).toString("utf8").slice(0, 300).replace(/\s+/g, " ").trim();
}
