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
export async function postMergeFailuresOf(db: DbLike, taskId: string): Promise<PostMergeFailure[]> {
  return (
    await db
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
  ).map((r) => ({ ...r, output: r.output ?? "" }));
}

export type LandingFailure = { changeId: number; entryId: number; message: string; output: string };

/**
 * The checks that failed at landing on a task's earlier changes (quarantined), oldest first: for
 * the prompt of the task's next run, so the agent sees what broke when its change met the tip.
 */
export async function landingFailuresOf(db: DbLike, taskId: string): Promise<LandingFailure[]> {
  return (
    await db
      .select({
        changeId: changeRequests.id,
        entryId: queueEntries.id,
        error: queueEntries.lastError,
      })
      .from(changeRequests)
      .innerJoin(queueEntries, eq(queueEntries.changeRequestId, changeRequests.id))
      .where(and(eq(changeRequests.taskId, taskId), eq(queueEntries.state, "quarantined")))
      .orderBy(asc(changeRequests.id))
  )
    .filter((r) => r.error?.kind === "check_failed" || r.error?.kind === "check_timeout")
    .map((r) => ({
      changeId: r.changeId,
      entryId: r.entryId,
      message: r.error?.message ?? "",
      output: r.error?.outputTail ?? "",
    }));
}
