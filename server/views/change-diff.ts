import { eq } from "drizzle-orm";
import type { DbLike } from "@/server/db/client";
import { changeRequests, queueEntries, tasks } from "@/server/db/schema";
import { NotFoundError } from "@/server/errors";
import { patchHash } from "@/server/queue/approval-gate";

/**
 * A change's whole patch, read-only, for anyone who may read requests: its requester follows a
 * change waiting for a reviewer without being one. Unlike the reviewer's `approval.diff`, nothing
 * is recorded: reading here approves nothing.
 */
export async function changeDiff(db: DbLike, changeId: number) {
  const [row] = await db
    .select({
      id: changeRequests.id,
      patch: changeRequests.patch,
      requestId: tasks.requestId,
      state: queueEntries.state,
      entryId: queueEntries.id,
    })
    .from(changeRequests)
    .leftJoin(tasks, eq(tasks.id, changeRequests.taskId))
    .leftJoin(queueEntries, eq(queueEntries.changeRequestId, changeRequests.id))
    .where(eq(changeRequests.id, changeId))
    .limit(1);
  if (!row) throw new NotFoundError(`no change C${changeId}`);
  return { ...row, patchHash: patchHash(row.patch) };
}
