import { inArray } from "drizzle-orm";
import type { DbLike } from "@/server/db/client";
import { requests } from "@/server/db/schema";

/**
 * The cycle that "`waiting` waits for `on`" would close, written out ("R12 (web) → R9 (api) →
 * R12 (web)"), or null: a walk from `on` along what each request already waits for, across
 * repositories, one query per step.
 */
export async function dependencyCycle(
  db: DbLike,
  waiting: number,
  on: number,
): Promise<string | null> {
  const parent = new Map<number, number | null>([[on, null]]);
  let frontier = [on];
  while (frontier.length && !parent.has(waiting)) {
    const rows = await db
      .select({ id: requests.id, dependsOn: requests.dependsOn })
      .from(requests)
      .where(inArray(requests.id, frontier));
    const next: number[] = [];
    for (const r of rows)
      for (const d of r.dependsOn)
        if (!parent.has(d)) {
          parent.set(d, r.id);
          next.push(d);
        }
    frontier = next;
  }
  if (!parent.has(waiting)) return null;
  // Read back from `waiting` to `on`, turned round: on → … → waiting, each waiting for the
  // next; the new "waiting waits for on" closes it.
  const chain: number[] = [];
  for (let at: number | null | undefined = waiting; at != null; at = parent.get(at))
    chain.unshift(at);
  const path = [waiting, ...chain];
  const repos = new Map(
    (
      await db
        .select({ id: requests.id, repo: requests.repo })
        .from(requests)
        .where(inArray(requests.id, [...new Set(path)]))
    ).map((r) => [r.id, r.repo]),
  );
  return path.map((id) => `R${id} (${repos.get(id) ?? "?"})`).join(" → ");
}
