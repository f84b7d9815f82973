import { and, asc, eq } from "drizzle-orm";
import type { DbLike } from "@/server/db/client";
import { changeRequests, queueEntries, verifications } from "@/server/db/schema";

export type PostMergeFailure = {
  verificationId: number;
  changeId: number;
  entryId: number;
  commit: string | null;
  output: string;
};

/**
 * The post-merge failures blamed on a task's earlier changes, oldest first: what bisection found
 * and reverted, with the failing checks' output — for the prompt of the task's next run, as a
 * reviewer's rejection is (server/queue/approval-gate.ts rejectionsOf).
 */
export function postMergeFailuresOf(db: DbLike, taskId: string): PostMergeFailure[] {
  return db
    .select({
      verificationId: verifications.id,
      changeId: changeRequests.id,
      entryId: queueEntries.id,
      commit: verifications.culpritCommit,
      output: verifications.output,
    })
    .from(verifications)
    .innerJoin(queueEntries, eq(queueEntries.id, verifications.culpritEntryId))
    .innerJoin(changeRequests, eq(changeRequests.id, queueEntries.changeRequestId))
    .where(and(eq(changeRequests.taskId, taskId), eq(verifications.state, "culprit")))
    .orderBy(asc(verifications.id))
    .all()
    .map((r) => ({ ...r, output: r.output ?? "" }));
}
