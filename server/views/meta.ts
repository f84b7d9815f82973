import { desc, eq, inArray } from "drizzle-orm";
import type { MetaState } from "@/schemas/meta";
import type { Db } from "@/server/db/client";
import { metaItems, requests } from "@/server/db/schema";
import { overridesInForce } from "@/server/state/meta/overrides";

/**
 * The workspace meta queue as operators see it (/meta, `hyperion meta list`): its items newest
 * first, each with its state and effect, and the overrides they put in force.
 */
export async function metaQueue(db: Db, opts: { state?: MetaState; limit?: number } = {}) {
  const items = await db
    .select()
    .from(metaItems)
    .where(opts.state ? eq(metaItems.state, opts.state) : undefined)
    .orderBy(desc(metaItems.id))
    .limit(opts.limit ?? 200);
  const o = await overridesInForce(db);
  return {
    items: items.map((i) => ({
      id: i.id,
      sourceEventId: i.sourceEventId,
      kind: i.kind,
      state: i.state,
      repo: i.repo,
      requestId: i.requestId,
      payload: i.payload,
      effect: i.effect,
      by: i.by,
      createdAt: i.createdAt,
      updatedAt: i.updatedAt,
    })),
    paused: [...o.paused].map(([repo, p]) => ({ repo, ...p })),
    priorities: [
      ...[...o.repoPriority].map(([repo, p]) => ({ target: repo, ...p })),
      ...[...o.requestPriority].map(([id, p]) => ({ target: `R${id}`, ...p })),
    ],
  };
}
export type MetaQueue = Awaited<ReturnType<typeof metaQueue>>;

/**
 * The requests a request waits for, with their repository and state, and in words why it waits
 * (or no longer does): the request page's "Waits for" section.
 */
export async function dependenciesOf(
  db: Db,
  request: { id: number; repo: string; dependsOn: number[] },
) {
  if (!request.dependsOn.length) return [];
  const rows = await db
    .select({
      id: requests.id,
      title: requests.title,
      repo: requests.repo,
      status: requests.status,
    })
    .from(requests)
    .where(inArray(requests.id, request.dependsOn));
  const byId = new Map(rows.map((r) => [r.id, r]));
  return request.dependsOn.flatMap((id) => {
    const r = byId.get(id);
    if (!r) return [];
    const crossRepo = r.repo !== request.repo;
    const where = crossRepo ? ` in ${r.repo}` : "";
    const why =
      r.status === "done"
        ? `R${r.id}${where} has landed: satisfied`
        : ["failed", "cancelled", "rolled_back"].includes(r.status)
          ? `R${r.id}${where} ${r.status.replaceAll("_", " ")} without landing: R${request.id} fails too`
          : `R${request.id} waits until R${r.id}${where} lands (all its changes merged): none of its tasks is dispatched before`;
    return [
      {
        ...r,
        crossRepo,
        satisfied: r.status === "done",
        why,
      },
    ];
  });
}
