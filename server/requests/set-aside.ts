import { and, eq, inArray } from "drizzle-orm";
import type { Db, DbLike } from "@/server/db/client";
import { queueEntries } from "@/server/db/schema";
import { moveUnleased } from "@/server/state/queue/store";
import type { User } from "@/server/users/service";

/**
 * The queue entries of these changes still in quarantine: what running a failed request again,
 * planning it again or closing it sets aside, so that none of them can land later.
 */
export async function quarantinedOf(
  db: DbLike,
  changeIds: readonly (number | null)[],
): Promise<number[]> {
  const ids = changeIds.filter((c): c is number => c !== null);
  if (!ids.length) return [];
  return (
    await db
      .select({ id: queueEntries.id })
      .from(queueEntries)
      .where(and(inArray(queueEntries.changeRequestId, ids), eq(queueEntries.state, "quarantined")))
  ).map((e) => e.id);
}

/** Rejects those entries, each noting what was done to its request and by whom. */
export async function setAside(
  db: DbLike,
  entryIds: readonly number[],
  user: User,
  done: string,
): Promise<void> {
  for (const id of entryIds)
    await moveUnleased(db, id, {
      from: "quarantined",
      to: "rejected",
      by: `user:${user.email}`,
      note: `set aside: its request was ${done} by ${user.email}`,
    });
}
