import { tracked } from "@trpc/server";
import { desc, inArray, notInArray } from "drizzle-orm";
import { z } from "zod";
import type { ChangeRequestInput } from "@/schemas/change-request";
import { currentConfig } from "@/server/config/load";
import { changeRequests, queueEntries } from "@/server/db/schema";
import { followAppendOnly, LiveInput, liveCursor } from "@/server/events/log";
import { logsAfter, queueInsights, recentLogs } from "@/server/queue/insights";
import { retryEntry } from "@/server/queue/retry";
import { rollbackEntry } from "@/server/queue/rollback";
import { pendingStates } from "@/server/queue/states";
import { queueStatus } from "@/server/queue/status";
import { submitChanges } from "@/server/queue/submit";
import { shownTo } from "@/server/redact";
import { recentVerifications } from "@/server/verify/list";
import { procedure, router } from "../init";

const EntryId = z.strictObject({ id: z.number().int().positive() });

export const queueRouter = router({
  overview: procedure("queue.read").query(({ ctx }) => {
    const columns = {
      id: queueEntries.id,
      changeRequestId: queueEntries.changeRequestId,
      repo: queueEntries.repo,
      targetBranch: queueEntries.targetBranch,
      state: queueEntries.state,
      attempts: queueEntries.attempts,
      maxAttempts: queueEntries.maxAttempts,
      leaseOwner: queueEntries.leaseOwner,
      lastError: queueEntries.lastError,
      mergedCommit: queueEntries.mergedCommit,
      createdAt: queueEntries.createdAt,
      updatedAt: queueEntries.updatedAt,
    };
    // Waiting for a reviewer is not finished: the board lists it with the pending entries.
    const waiting = [...pendingStates, "awaiting_approval" as const];
    const pending = ctx.db
      .select(columns)
      .from(queueEntries)
      .where(inArray(queueEntries.state, waiting))
      .orderBy(queueEntries.id)
      .limit(200)
      .all();
    const finished = ctx.db
      .select(columns)
      .from(queueEntries)
      .where(notInArray(queueEntries.state, waiting))
      .orderBy(desc(queueEntries.updatedAt))
      .limit(100)
      .all();
    const ids = [...pending, ...finished].map((e) => e.changeRequestId);
    const summaries = ids.length
      ? ctx.db
          .select({
            id: changeRequests.id,
            summary: changeRequests.summary,
            taskId: changeRequests.taskId,
          })
          .from(changeRequests)
          .where(inArray(changeRequests.id, ids))
          .all()
      : [];
    const byId = new Map(summaries.map((s) => [s.id, s]));
    const withSummary = <T extends { changeRequestId: number }>(e: T) => ({
      ...e,
      summary: byId.get(e.changeRequestId)?.summary.split("\n")[0] ?? "",
      taskId: byId.get(e.changeRequestId)?.taskId ?? "",
    });
    return shownTo(ctx, {
      status: queueStatus(ctx.db),
      insights: queueInsights(ctx.db),
      pending: pending.map(withSummary),
      finished: finished.map(withSummary),
      recent: recentLogs(ctx.db, 50),
      // Post-merge verifications (server/verify): what the tip's full checks said, and a culprit.
      verifications: recentVerifications(ctx.db, { limit: 10 }),
      repositories: currentConfig(ctx.env.configPath).repositories.map((r) => r.name),
    });
  }),

  /** Every queue transition as it is logged; resumes after `lastEventId` on reconnect. */
  live: procedure("queue.read")
    .input(LiveInput)
    .subscription(async function* ({ ctx, input, signal }) {
      const start = liveCursor(input, () => recentLogs(ctx.db, 1)[0]?.id ?? 0);
      for await (const row of followAppendOnly((id) => logsAfter(ctx.db, id), start, signal)) {
        yield tracked(String(row.id), shownTo(ctx, row));
      }
    }),

  /** Queue change requests (one or an array, all-or-nothing), as `hyperion submit` does. */
  submit: procedure("change.submit")
    .input(z.custom<ChangeRequestInput | ChangeRequestInput[]>())
    .mutation(({ ctx, input }) => submitChanges(ctx.db, input, currentConfig(ctx.env.configPath))),

  retry: procedure("queue.operate")
    .input(EntryId)
    .mutation(({ ctx, input }) => {
      retryEntry(ctx.db, input.id, `user:${ctx.user.email}`);
      return { id: input.id };
    }),

  rollback: procedure("change.rollback")
    .input(EntryId)
    .mutation(async ({ ctx, input }) =>
      rollbackEntry(ctx.db, currentConfig(ctx.env.configPath), input.id),
    ),
});
