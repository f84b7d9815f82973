import { eq } from "drizzle-orm";
import type { Db } from "@/server/db/client";
import { queueEntries } from "@/server/db/schema";
import { NotFoundError, ValidationError } from "@/server/errors";
import { EntryStateError, moveUnleased } from "../state/queue/store";

/** An operator's retry: a quarantined entry goes back to the queue with fresh attempts. */
export async function retryEntry(db: Db, entryId: number, by: string): Promise<void> {
  try {
    await moveUnleased(db, entryId, { from: "quarantined", to: "queued", by });
  } catch (err) {
    if (!(err instanceof EntryStateError)) throw err;
    if (!err.actual) throw new NotFoundError(`no queue entry ${entryId}`);
    throw new ValidationError([
      {
        path: "id",
        message: `entry ${entryId} is ${err.actual}; only a quarantined entry can be retried`,
      },
    ]);
  }
}

export async function quarantined(db: Db) {
  return await db.select().from(queueEntries).where(eq(queueEntries.state, "quarantined"));
}

/**
 * An operator's drop: a quarantined entry is rejected and will never land. Its task keeps its
 * state (a quarantine already failed it); its request can be run again from its page.
 */
export async function dropEntry(db: Db, entryId: number, by: string): Promise<void> {
  try {
    await moveUnleased(db, entryId, {
      from: "quarantined",
      to: "rejected",
      by,
      note: `dropped from quarantine by ${by.replace(/^user:/, "")}`,
    });
  } catch (err) {
    if (!(err instanceof EntryStateError)) throw err;
    if (!err.actual) throw new NotFoundError(`no queue entry ${entryId}`);
    throw new ValidationError([
      {
        path: "id",
        message: `entry ${entryId} is ${err.actual}; only a quarantined entry can be dropped`,
      },
    ]);
  }
}
