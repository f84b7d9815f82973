import { and, eq } from "drizzle-orm";
import type { MetaKind, MetaState } from "@/schemas/meta";
import type { DbLike } from "@/server/db/client";
import { metaItems } from "@/server/db/schema";
import { stored } from "@/server/db/sql";
import { appendEvent } from "@/server/events/log";
import { MetaMoveConflict, metaMachine } from "./states";

export { MetaMoveConflict };

export type MetaItemRow = typeof metaItems.$inferSelect;

export type NewMetaItem = {
  sourceEventId: string;
  kind: MetaKind;
  repo: string | null;
  requestId: number | null;
  payload: Record<string, unknown>;
  by: string;
  userId: number | null;
};

/** The item recorded for a source event id, if any. */
export async function metaItemBySource(
  db: DbLike,
  sourceEventId: string,
): Promise<MetaItemRow | undefined> {
  const [row] = await db
    .select()
    .from(metaItems)
    .where(eq(metaItems.sourceEventId, sourceEventId))
    .limit(1);
  return row;
}

/**
 * Records an item in `pending`, the one state an item starts in, with its `meta.submitted` event.
 * The caller has looked its source event id up first (in the same transaction); the unique index
 * refuses a second row for the same id whatever happens.
 */
export async function recordMetaItem(
  tx: DbLike,
  item: NewMetaItem,
  now = Date.now(),
): Promise<MetaItemRow> {
  const row = stored(
    await tx
      .insert(metaItems)
      .values({ ...item, state: "pending", effect: null, createdAt: now, updatedAt: now })
      .returning(),
  );
  await appendEvent(tx, {
    topic: "meta",
    type: "meta.submitted",
    entityId: row.id,
    payload: { id: row.id, kind: row.kind, sourceEventId: row.sourceEventId, by: row.by },
  });
  return row;
}

/**
 * The one way an item's state changes: from `pending` to applied or refused, if the row is still
 * pending (compare-and-swap), with `effect` saying what it did or why not, and its `meta.<to>`
 * event, in one transaction (a savepoint in the caller's, whose effect it seals).
 */
export async function moveMetaItem(
  db: DbLike,
  move: { id: number; from: MetaState; to: MetaState; effect: string },
): Promise<MetaItemRow> {
  const { id, from, to, effect } = move;
  return metaMachine.move(db, {
    from,
    to,
    subject: `meta item ${id}`,
    swap: async (tx) =>
      (
        await tx
          .update(metaItems)
          .set({ state: to, effect, updatedAt: Date.now() })
          .where(and(eq(metaItems.id, id), eq(metaItems.state, from)))
          .returning()
      )[0],
    refused: () => new MetaMoveConflict(`meta item ${id} is no longer ${from}`),
    record: async (tx, row) =>
      appendEvent(tx, {
        topic: "meta",
        type: `meta.${to}`,
        entityId: id,
        payload: { id, kind: row.kind, sourceEventId: row.sourceEventId, effect },
      }),
  });
}

/**
 * What a pending item waits for (it stays pending): written only while it is pending, and not
 * a move, so it has no event of its own.
 */
export async function noteMetaWait(db: DbLike, id: number, waiting: string): Promise<void> {
  await db
    .update(metaItems)
    .set({ effect: waiting, updatedAt: Date.now() })
    .where(and(eq(metaItems.id, id), eq(metaItems.state, "pending")));
}

/**
 * A QA escalation as a meta-queue item, recorded by the QA gate in the transaction that
 * escalates the wait: applied at once (the operators have been told), once per source event id.
 */
export async function recordEscalation(
  tx: DbLike,
  e: {
    sourceEventId: string;
    repo: string;
    requestId: number | null;
    payload: Record<string, unknown>;
    effect: string;
  },
): Promise<void> {
  if (await metaItemBySource(tx, e.sourceEventId)) return;
  const row = await recordMetaItem(tx, {
    sourceEventId: e.sourceEventId,
    kind: "qa_escalation",
    repo: e.repo,
    requestId: e.requestId,
    payload: e.payload,
    by: "system",
    userId: null,
  });
  await moveMetaItem(tx, { id: row.id, from: "pending", to: "applied", effect: e.effect });
}
