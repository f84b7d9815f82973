import { tracked } from "@trpc/server";
import { z } from "zod";
import type { ChangeRequestInput } from "@/schemas/change-request";
import { currentConfig } from "@/server/config/load";
import { followAppendOnly, LiveInput, liveCursor } from "@/server/events/log";
import { dropEntry, retryEntry } from "@/server/queue/retry";
import { rollbackEntry } from "@/server/queue/rollback";
import { submitChanges } from "@/server/queue/submit";
import { shownTo } from "@/server/redact";
import { recentVerifications } from "@/server/verify/list";
import { queueBoard, withRequestIds } from "@/server/views/board";
import { logsAfter, queueInsights, recentLogs } from "@/server/views/insights";
import { queueStatus } from "@/server/views/queue-status";
import { waitingToStart } from "@/server/views/waiting-to-start";
import { procedure, router } from "../init";

const EntryId = z.strictObject({ id: z.number().int().positive() });

export const queueRouter = router({
  overview: procedure("queue.read").query(async ({ ctx }) => {
    const repositories = currentConfig(ctx.env.configPath).repositories;
    return shownTo(ctx, {
      status: await queueStatus(ctx.db),
      insights: await queueInsights(ctx.db),
      ...(await queueBoard(ctx.db)),
      recent: await withRequestIds(ctx.db, await recentLogs(ctx.db, 100)),
      // Tasks that wait on another task or its locks (a change waiting for a reviewer holds them).
      waitingToStart: await waitingToStart(ctx.db),
      // Post-merge verifications (server/verify): what the tip's full checks said, and a culprit.
      verifications: await recentVerifications(ctx.db, { limit: 10 }),
      repositories: repositories.map((r) => r.name),
      // Commits link to the repository's web host when its config names one.
      webUrls: Object.fromEntries(
        repositories.flatMap((r) => (r.webUrl ? [[r.name, r.webUrl] as const] : [])),
      ) as Record<string, string>,
    });
  }),

  /** Every queue transition as it is logged; resumes after `lastEventId` on reconnect. */
  live: procedure("queue.read")
    .input(LiveInput)
    .subscription(async function* ({ ctx, input, signal }) {
      const start = await liveCursor(input, async () => (await recentLogs(ctx.db, 1))[0]?.id ?? 0);
      for await (const row of followAppendOnly(
        async (id) => logsAfter(ctx.db, id),
        start,
        signal,
      )) {
        const [shown] = await withRequestIds(ctx.db, [row]);
        if (shown) yield tracked(String(row.id), shownTo(ctx, shown));
      }
    }),

  /** Queue change requests (one or an array, all-or-nothing), as `hyperion submit` does. */
  submit: procedure("change.submit")
    .input(z.custom<ChangeRequestInput | ChangeRequestInput[]>())
    .mutation(({ ctx, input }) => submitChanges(ctx.db, input, currentConfig(ctx.env.configPath))),

  retry: procedure("queue.operate")
    .input(EntryId)
    .mutation(async ({ ctx, input }) => {
      await retryEntry(ctx.db, input.id, `user:${ctx.user.email}`);
      return { id: input.id };
    }),

  /** A quarantined entry set aside for good: rejected, it never lands. */
  drop: procedure("queue.operate")
    .input(EntryId)
    .mutation(async ({ ctx, input }) => {
      await dropEntry(ctx.db, input.id, `user:${ctx.user.email}`);
      return { id: input.id };
    }),

  rollback: procedure("change.rollback")
    .input(EntryId)
    .mutation(async ({ ctx, input }) =>
      rollbackEntry(ctx.db, currentConfig(ctx.env.configPath), input.id),
    ),
});
