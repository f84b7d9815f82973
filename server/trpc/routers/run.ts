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
    .query(({ ctx, input }) => {
      // The cursor first: an event written while the rows are read is then not missed.
      const cursor = lastEventId(ctx.db);
      return { rows: shownTo(ctx, listRuns(ctx.db, input)), cursor };
    }),

  detail: procedure("queue.read")
    .input(z.strictObject({ id: z.number().int().positive() }))
    .query(({ ctx, input }) => shownTo(ctx, runDetail(ctx.db, input.id))),

  /** append_context, checkpoint_and_replan or stop_and_requeue, with a reason and its source event. */
  steer: procedure("queue.operate")
    .input(z.strictObject({ id: z.number().int().positive(), steer: z.unknown() }))
    .mutation(({ ctx, input }) => steerRun(ctx.db, input.id, ctx.user, input.steer)),

  /** Run events (moves and log batches), all runs or one (entityId). */
  live: procedure("queue.read")
    .input(LiveInput)
    .subscription(async function* ({ ctx, input, signal }) {
      const from = liveCursor(input, () => lastEventId(ctx.db));
      for await (const event of followEvents(ctx.db, "run", from, signal, input.entityId)) {
        yield tracked(String(event.id), {
          type: event.type,
          runId: event.entityId,
          payload: event.payload,
        });
      }
    }),
});
