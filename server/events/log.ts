import { and, asc, eq, gt, max } from "drizzle-orm";
import { z } from "zod";
import type { Db, DbLike } from "@/server/db/client";
import { events } from "@/server/db/schema";

/** `queue`: post-merge verifications (server/verify), for the queue page and operators; `alert`: alerts fired and their webhook deliveries (server/alerts). */
export type EventTopic = "request" | "worker" | "run" | "queue" | "alert" | "meta";

export type EventRow = typeof events.$inferSelect;

/** Appends one event. Call it inside the transaction that made the change it reports. */
export async function appendEvent(
  db: DbLike,
  e: { topic: EventTopic; type: string; entityId?: number; payload: unknown },
): Promise<number> {
  const [row] = await db
    .insert(events)
    .values({
      topic: e.topic,
      type: e.type,
      entityId: e.entityId ?? null,
      payload: e.payload,
      createdAt: Date.now(),
    })
    .returning({ id: events.id });
  if (!row) throw new Error("the event was not stored");
  return row.id;
}

export async function eventsAfter(
  db: Db,
  topic: EventTopic,
  afterId: number,
  limit = 200,
  entityId?: number,
): Promise<EventRow[]> {
  return await db
    .select()
    .from(events)
    .where(
      and(
        eq(events.topic, topic),
        gt(events.id, afterId),
        entityId === undefined ? undefined : eq(events.entityId, entityId),
      ),
    )
    .orderBy(asc(events.id))
    .limit(limit);
}

export async function lastEventId(db: Db): Promise<number> {
  return (
    (
      await db
        .select({ id: max(events.id) })
        .from(events)
        .limit(1)
    )[0]?.id ?? 0
  );
}

/**
 * Follows an append-only table from `afterId` on by polling it. The worker and the CLI write
 * from other processes, so an in-memory emitter could not see their rows; SQLite in WAL mode
 * makes this read cheap. Every live view uses this one mechanism.
 */
export async function* followAppendOnly<T extends { id: number }>(
  readAfter: (afterId: number) => Promise<T[]>,
  afterId: number,
  signal: AbortSignal | undefined,
  pollMs = 200,
): AsyncGenerator<T> {
  let cursor = afterId;
  while (!signal?.aborted) {
    const batch = await readAfter(cursor);
    for (const row of batch) {
      cursor = row.id;
      yield row;
    }
    if (batch.length === 0) await sleep(pollMs, signal);
  }
}

/** Follows one topic's events, or only one entity's (a request page follows its request). */
export function followEvents(
  db: Db,
  topic: EventTopic,
  afterId: number,
  signal: AbortSignal | undefined,
  entityId?: number,
) {
  return followAppendOnly(async (id) => eventsAfter(db, topic, id, 200, entityId), afterId, signal);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** The input of every live subscription: where the page was rendered, or where it got to. */
/** An event id as the browser sends it back (Last-Event-ID): digits only. */
export const EVENT_ID = /^\d{1,15}$/;

export const LiveInput = z.strictObject({
  afterId: z.number().int().min(0).optional(),
  /** Only this entity's events (filtered on the server), e.g. one request's. */
  entityId: z.number().int().positive().optional(),
  // Sent back by the browser on a reconnect: always an id we issued, so anything else is refused.
  lastEventId: z
    .string()
    .regex(EVENT_ID, "lastEventId must be an event id (digits only)")
    .nullish(),
});

/** Resume after the last event the client saw, else after the page's render, else from now. */
export async function liveCursor(
  input: z.infer<typeof LiveInput>,
  now: () => Promise<number>,
): Promise<number> {
  if (input.lastEventId) return Number(input.lastEventId);
  return input.afterId ?? (await now());
}
