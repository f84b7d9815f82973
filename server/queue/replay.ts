import { asc, sql } from "drizzle-orm";
import type { EntryError, EntryState } from "@/schemas/queue";
import { closeDb, type Db, openDb } from "@/server/db/client";
import { changeQueueLogs, changeRequests, queueEntries, tasks } from "@/server/db/schema";
import { copyTasks } from "@/server/state/tasks/store";
import { copyEntries } from "../state/queue/store";

export type ReplayedEntry = {
  id: number;
  state: EntryState;
  attempts: number;
  mergedCommit: string | null;
  lastError: EntryError | null;
};

export type Divergence = { entryId: number; field: string; live: unknown; replayed: unknown };

/** Folds the transition log into each entry's state: the log alone must explain the queue. */
export async function foldLogs(db: Db): Promise<Map<number, ReplayedEntry>> {
  const out = new Map<number, ReplayedEntry>();
  for (const row of await db.select().from(changeQueueLogs).orderBy(asc(changeQueueLogs.id))) {
    const e = row.event;
    const prev = out.get(e.entryId) ?? {
      id: e.entryId,
      state: "queued",
      attempts: 0,
      mergedCommit: null,
      lastError: null,
    };
    out.set(e.entryId, {
      id: e.entryId,
      state: e.to,
      attempts: e.attempt,
      mergedCommit: e.mergedCommit ?? prev.mergedCommit,
      lastError: e.error ?? prev.lastError,
    });
  }
  return out;
}

/**
 * `hyperion replay`: rebuilds the queue from change_queue_logs into a fresh database (the
 * inputs — tasks and change requests — copied, the entries derived from the log alone) and
 * lists every field where the live queue differs.
 */
export async function replayInto(
  live: Db,
  outFile: string,
): Promise<{ entries: number; divergences: Divergence[] }> {
  const replayed = await foldLogs(live);
  const fresh = openDb(outFile);
  try {
    await fresh.transaction(async (tx) => {
      await copyTasks(
        tx,
        (await live.select().from(tasks)).map((t) => ({ ...t, requestId: null })),
      );
      for (const c of await live.select().from(changeRequests))
        await tx.insert(changeRequests).values(c);
      const liveEntries = new Map((await live.select().from(queueEntries)).map((e) => [e.id, e]));
      await copyEntries(
        tx,
        [...replayed.values()].flatMap((r) => {
          const source = liveEntries.get(r.id);
          if (!source) return [];
          return [
            {
              ...source,
              state: r.state,
              attempts: r.attempts,
              mergedCommit: r.mergedCommit,
              lastError: r.lastError,
              leaseOwner: null,
              leaseExpiresAt: null,
            },
          ];
        }),
      );
    });
    const divergences: Divergence[] = [];
    const liveRows = await live.select().from(queueEntries);
    for (const e of liveRows) {
      const r = replayed.get(e.id);
      if (!r) {
        divergences.push({ entryId: e.id, field: "entry", live: e.state, replayed: null });
        continue;
      }
      for (const field of ["state", "attempts", "mergedCommit"] as const) {
        if (e[field] !== r[field])
          divergences.push({ entryId: e.id, field, live: e[field], replayed: r[field] });
      }
    }
    const count =
      (await fresh.select({ n: sql<number>`count(*)` }).from(queueEntries).limit(1))[0]?.n ?? 0;
    return { entries: count, divergences };
  } finally {
    await closeDb(fresh);
  }
}
