import { and, asc, count, eq, inArray, isNotNull } from "drizzle-orm";
import type { DbLike } from "@/server/db/client";
import { queueEntries, requests, tasks } from "@/server/db/schema";

/** How many blocked tasks /queue lists; the count says how many there are in all. */
const SHOWN = 50;

/** Task ids named in a blocked reason (`R6.1`, schemas/ids.ts `taskRef`). */
export function tasksNamed(reason: string): string[] {
  return [...new Set([...reason.matchAll(/\bR(\d+\.\d+)\b/g)].map((m) => m[1] ?? ""))];
}

/**
 * Tasks that could start but wait — on a task they depend on, or on a lock another task holds —
 * oldest first, each with what it waits for: the tasks its reason names, their state, and their
 * change with its queue entry (a change waiting for a reviewer holds its locks until one decides,
 * which /queue should say rather than leave the request sitting at "Planned").
 */
export async function waitingToStart(db: DbLike) {
  const where = and(eq(tasks.state, "pending"), isNotNull(tasks.blockedReason));
  const rows = await db
    .select({
      id: tasks.id,
      title: tasks.title,
      reason: tasks.blockedReason,
      since: tasks.updatedAt,
      createdAt: tasks.createdAt,
      request: { id: requests.id, title: requests.title, repo: requests.repo },
    })
    .from(tasks)
    .innerJoin(requests, eq(requests.id, tasks.requestId))
    .where(where)
    .orderBy(asc(tasks.createdAt), asc(tasks.id))
    .limit(SHOWN);
  const total =
    rows.length < SHOWN
      ? rows.length
      : ((await db.select({ n: count() }).from(tasks).where(where).limit(1))[0]?.n ?? rows.length);
  const named = [...new Set(rows.flatMap((r) => tasksNamed(r.reason ?? "")))];
  const holders = named.length
    ? await db
        .select({
          id: tasks.id,
          state: tasks.state,
          changeId: tasks.changeRequestId,
          entryId: queueEntries.id,
          entryState: queueEntries.state,
        })
        .from(tasks)
        .leftJoin(queueEntries, eq(queueEntries.changeRequestId, tasks.changeRequestId))
        .where(inArray(tasks.id, named))
    : [];
  return {
    total,
    tasks: rows.map((r) => ({
      id: r.id,
      title: r.title,
      reason: r.reason ?? "",
      since: r.since ?? r.createdAt,
      request: r.request,
      waitsFor: tasksNamed(r.reason ?? "").flatMap((id) => {
        const h = holders.find((x) => x.id === id);
        if (!h) return [];
        return [
          {
            taskId: h.id,
            state: h.state,
            change:
              h.changeId !== null && h.entryId !== null
                ? { id: h.changeId, entryId: h.entryId, state: h.entryState ?? "queued" }
                : null,
          },
        ];
      }),
    })),
  };
}
export type WaitingToStart = Awaited<ReturnType<typeof waitingToStart>>;

/**
 * Tasks the gate sent back to triage (rule 6: no area the policy knows), whose requests are
 * open or wait for a re-scope: what `hyperion status` lists with their reason.
 */
export async function backToTriage(
  db: DbLike,
): Promise<{ task: string; repo: string; request: number; reason: string }[]> {
  const rows = await db
    .select({ task: tasks.id, repo: tasks.repo, request: requests.id, reason: tasks.blockedReason })
    .from(tasks)
    .innerJoin(requests, eq(requests.id, tasks.requestId))
    .where(
      and(
        eq(tasks.state, "triage"),
        inArray(requests.status, [
          "planned",
          "in_progress",
          "awaiting_approval",
          "needs_attention",
        ]),
      ),
    )
    .orderBy(asc(tasks.createdAt), asc(tasks.id))
    .limit(SHOWN);
  return rows.map((r) => ({ ...r, reason: r.reason ?? "" }));
}
