import { and, desc, eq, inArray, like, ne } from "drizzle-orm";
import type { DbLike } from "@/server/db/client";
import { events, verifications } from "@/server/db/schema";
import type { VerificationRow } from "../state/verify/store";

export type VerificationView = VerificationRow & {
  /** The outcome in words, as its last move's event told operators (empty while running). */
  reason: string;
};

/** The latest verifications, newest first, each with the reason its last move gave. */
export async function recentVerifications(
  db: DbLike,
  opts: { repo?: string; limit?: number } = {},
): Promise<VerificationView[]> {
  const rows = await db
    .select()
    .from(verifications)
    .where(opts.repo ? eq(verifications.repo, opts.repo) : undefined)
    .orderBy(desc(verifications.id))
    .limit(opts.limit ?? 20);
  if (rows.length === 0) return [];
  const reasons = new Map<number, string>();
  const moves = await db
    .select({ entityId: events.entityId, type: events.type, payload: events.payload })
    .from(events)
    .where(
      and(
        eq(events.topic, "queue"),
        like(events.type, "verification.%"),
        ne(events.type, "verification.step"),
        inArray(
          events.entityId,
          rows.map((r) => r.id),
        ),
      ),
    )
    .orderBy(desc(events.id));
  for (const e of moves) {
    if (e.entityId === null || reasons.has(e.entityId)) continue;
    const reason = (e.payload as { reason?: unknown }).reason;
    reasons.set(e.entityId, typeof reason === "string" ? reason : "");
  }
  return rows.map((r) => ({ ...r, reason: reasons.get(r.id) ?? "" }));
}
