import { tracked } from "@trpc/server";
import { z } from "zod";
import { listAlerts, openAlertCount } from "@/server/alerts/list";
import { eventsAfter, followEvents, LiveInput, lastEventId, liveCursor } from "@/server/events/log";
import { procedure, router } from "../init";

/** Alerts (server/alerts, docs/alerts.md): operators and admins see them and their deliveries. */
export const alertRouter = router({
  /** Newest first, each with its webhook deliveries; `before` pages back. */
  list: procedure("queue.operate")
    .input(
      z
        .strictObject({
          before: z.number().int().positive().optional(),
          limit: z.number().int().min(1).max(200).optional(),
        })
        .optional(),
    )
    .query(async ({ ctx, input }) => listAlerts(ctx.db, input ?? {})),

  /** The header's count: alerts that fired and have not cleared. */
  count: procedure("queue.operate").query(async ({ ctx }) => ({
    open: await openAlertCount(ctx.db),
  })),

  /**
   * The header's poll: alert events after `afterId` (none given: from now), and the cursor to
   * send next time. Polled rather than streamed: a browser opens at most six HTTP/1.1
   * connections to a host, and a third stream in every tab left none for a tab's own requests.
   */
  recent: procedure("queue.operate")
    .input(z.strictObject({ afterId: z.number().int().min(0).optional() }))
    .query(async ({ ctx, input }) => {
      if (input.afterId === undefined) return { last: await lastEventId(ctx.db), events: [] };
      const rows = await eventsAfter(ctx.db, "alert", input.afterId, 50);
      return {
        last: rows.at(-1)?.id ?? input.afterId,
        events: rows.map((e) => {
          const p = (e.payload ?? {}) as Record<string, unknown>;
          return {
            type: e.type,
            alertId: e.entityId,
            summary: typeof p.summary === "string" ? p.summary : null,
            kind: typeof p.kind === "string" ? p.kind : null,
          };
        }),
      };
    }),

  /** Alerts fired and resolved, and their deliveries' moves, as they happen (the toast, the list). */
  live: procedure("queue.operate")
    .input(LiveInput)
    .subscription(async function* ({ ctx, input, signal }) {
      const start = await liveCursor(input, () => lastEventId(ctx.db));
      for await (const e of followEvents(ctx.db, "alert", start, signal)) {
        const p = (e.payload ?? {}) as Record<string, unknown>;
        yield tracked(String(e.id), {
          type: e.type,
          alertId: e.entityId,
          summary: typeof p.summary === "string" ? p.summary : null,
          kind: typeof p.kind === "string" ? p.kind : null,
        });
      }
    }),
});
