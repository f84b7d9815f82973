import { and, asc, eq, inArray } from "drizzle-orm";
import type { DbLike } from "@/server/db/client";
import { metaItems } from "@/server/db/schema";

export type DispatchPriority = "low" | "normal" | "high";

/** Who paused a repository, and why: the reason its tasks show while it stays paused. */
export type Pause = { itemId: number; by: string; note: string | null; at: number };

/** The operators' overrides in force, as the applied meta items say them. */
export type Overrides = {
  paused: Map<string, Pause>;
  repoPriority: Map<string, { priority: DispatchPriority; itemId: number }>;
  requestPriority: Map<number, { priority: DispatchPriority; itemId: number }>;
};

/**
 * The overrides in force, worked out each time from the applied `priority`, `pause` and `resume`
 * items, oldest first, the newest for each repository or request winning: there is no second
 * copy of them to go stale, and an item's effect is exactly what this reads.
 */
export async function overridesInForce(db: DbLike): Promise<Overrides> {
  const rows = await db
    .select({
      id: metaItems.id,
      kind: metaItems.kind,
      repo: metaItems.repo,
      requestId: metaItems.requestId,
      payload: metaItems.payload,
      by: metaItems.by,
      at: metaItems.updatedAt,
    })
    .from(metaItems)
    .where(
      and(eq(metaItems.state, "applied"), inArray(metaItems.kind, ["priority", "pause", "resume"])),
    )
    .orderBy(asc(metaItems.id));
  const out: Overrides = { paused: new Map(), repoPriority: new Map(), requestPriority: new Map() };
  for (const r of rows) {
    const note = typeof r.payload.note === "string" ? r.payload.note : null;
    if (r.kind === "pause" && r.repo)
      out.paused.set(r.repo, { itemId: r.id, by: r.by, note, at: r.at });
    else if (r.kind === "resume" && r.repo) out.paused.delete(r.repo);
    else if (r.kind === "priority") {
      const priority = r.payload.priority as DispatchPriority;
      // A request's override names the request; a repository's names no request.
      if (r.requestId !== null) out.requestPriority.set(r.requestId, { priority, itemId: r.id });
      else if (r.repo) out.repoPriority.set(r.repo, { priority, itemId: r.id });
    }
  }
  return out;
}

const RANK: Record<DispatchPriority, number> = { high: 0, normal: 1, low: 2 };

/**
 * The dispatch order with the overrides: a request's own override, else its repository's, else
 * normal; ties keep the order they came in (a stable sort), so with no override nothing moves.
 */
export function byOverride<T extends { repo: string; requestId: number | null }>(
  rows: T[],
  o: Overrides,
): T[] {
  const rank = (t: T) =>
    RANK[
      (t.requestId !== null ? o.requestPriority.get(t.requestId)?.priority : undefined) ??
        o.repoPriority.get(t.repo)?.priority ??
        "normal"
    ];
  return [...rows].sort((a, b) => rank(a) - rank(b));
}

/** The reason a paused repository's tasks show. */
export function pausedReason(repo: string, p: Pause): string {
  return `Paused by an operator (meta item #${p.itemId}, ${p.by}): no task of ${repo} is dispatched until it is resumed${p.note ? `. ${p.note}` : ""}`;
}
