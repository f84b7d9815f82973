import { tracked } from "@trpc/server";
import { z } from "zod";
import { followEvents, LiveInput, lastEventId, liveCursor } from "@/server/events/log";
import { shownTo } from "@/server/redact";
import { steerRun } from "@/server/runs/steers";
import { listRuns, runDetail } from "@/server/views/runs";
import { procedure, router } from "../init";

/** Agent runs: reviewers and operators read them, operators steer them. */
export const runRouter = router({
  list: procedure("queue.read")
    .input(z.unknown())
    .query(async ({ ctx, input }) => {
      // The cursor first: an event written while the rows are read is then not missed.
      const cursor = await lastEventId(ctx.db);
      return { rows: shownTo(ctx, await listRuns(ctx.db, input)), cursor };
    }),

  detail: procedure("queue.read")
    .input(z.strictObject({ id: z.number().int().positive() }))
    .query(async ({ ctx, input }) => shownTo(ctx, await runDetail(ctx.db, input.id))),

  /** append_context, checkpoint_and_replan or stop_and_requeue, with a reason and its source event. */
  steer: procedure("queue.operate")
    .input(z.strictObject({ id: z.number().int().positive(), steer: z.unknown() }))
    .mutation(async ({ ctx, input }) => steerRun(ctx.db, input.id, ctx.user, input.steer)),

  /** Run events (moves and log batches), all runs or one (entityId). */
  live: procedure("queue.read")
    .input(LiveInput)
    .subscription(async function* ({ ctx, input, signal }) {
      const from = await liveCursor(input, async () => lastEventId(ctx.db));
      for await (const event of followEvents(ctx.db, "run", from, signal, input.entityId)) {
        yield tracked(String(event.id), {
          type: event.type,
          runId: event.entityId,
          payload: event.payload,
        });
      }
    }),
});
