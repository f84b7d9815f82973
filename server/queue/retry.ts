import { and, eq } from "drizzle-orm";
import type { Db } from "@/server/db/client";
import { queueEntries } from "@/server/db/schema";
import { NotFoundError, ValidationError } from "@/server/errors";
import { getEntry, logTransition } from "./store";

/** An operator's retry: a quarantined entry goes back to the queue with fresh attempts. */
export function retryEntry(db: Db, entryId: number, by: string): void {
  const entry = getEntry(db, entryId);
  if (!entry) throw new NotFoundError(`no queue entry ${entryId}`);
  if (entry.state !== "quarantined") {
    throw new ValidationError([
      {
        path: "id",
        message: `entry ${entryId} is ${entry.state}; only a quarantined entry can be retried`,
      },
    ]);
  }
  db.transaction((tx) => {
    const now = Date.now();
    const res = tx
      .update(queueEntries)
      .set({ state: "queued", attempts: 0, nextAttemptAt: now, finishedAt: null, updatedAt: now })
      .where(and(eq(queueEntries.id, entryId), eq(queueEntries.state, "quarantined")))
      .run();
    if (res.changes === 1)
      logTransition(
        tx,
        { entryId, from: "quarantined", to: "queued", worker: by, attempt: 0 },
        now,
      );
  });
}

export function quarantined(db: Db) {
  return db.select().from(queueEntries).where(eq(queueEntries.state, "quarantined")).all();
}
