import { asc, sql } from "drizzle-orm";
import type { EntryError, EntryState } from "@/schemas/queue";
import { type Db, openDb } from "@/server/db/client";
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
export function foldLogs(db: Db): Map<number, ReplayedEntry> {
  const out = new Map<number, ReplayedEntry>();
  for (const row of db.select().from(changeQueueLogs).orderBy(asc(changeQueueLogs.id)).all()) {
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
export function replayInto(
  live: Db,
  outFile: string,
): { entries: number; divergences: Divergence[] } {
  const replayed = foldLogs(live);
  const fresh = openDb(outFile);
  try {
    fresh.transaction((tx) => {
      copyTasks(
        tx,
        live
          .select()
          .from(tasks)
          .all()
          .map((t) => ({ ...t, requestId: null })),
      );
      for (const c of live.select().from(changeRequests).all())
        tx.insert(changeRequests).values(c).run();
      const liveEntries = new Map(
        live
          .select()
          .from(queueEntries)
          .all()
          .map((e) => [e.id, e]),
      );
      copyEntries(
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
    const liveRows = live.select().from(queueEntries).all();
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
    const count = fresh.select({ n: sql<number>`count(*)` }).from(queueEntries).get()?.n ?? 0;
    return { entries: count, divergences };
  } finally {
    fresh.$client.close();
  }
}
