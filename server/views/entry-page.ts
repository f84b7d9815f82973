import { eq } from "drizzle-orm";
import type { Db } from "@/server/db/client";
import { tasks } from "@/server/db/schema";
import { entryTimeline } from "./timeline";
import { traceOf } from "./trace";

/**
 * A queue entry's page as one read: its timeline (why it did or did not merge), the task and
 * request it comes from, their trace, and the change that reverted it if it was rolled back.
 * Throws NotFoundError for an entry that does not exist.
 */
export async function entryPage(db: Db, entryId: number) {
  const timeline = await entryTimeline(db, entryId);
  const task = timeline.change
    ? ((
        await db
          .select({ id: tasks.id, requestId: tasks.requestId })
          .from(tasks)
          .where(eq(tasks.id, timeline.change.taskId))
          .limit(1)
      )[0] ?? null)
    : null;
  const trace = task ? await traceOf(db, { requestId: task.requestId, taskId: task.id }) : null;
  const revertedBy =
    trace?.tasks.flatMap((t) => t.changes).find((c) => c.entry?.id === entryId)?.revertedBy ?? null;
  return { timeline, task, trace, revertedBy };
}
