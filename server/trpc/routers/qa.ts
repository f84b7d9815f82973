import { z } from "zod";
import { QaFailInput, QaPassInput, QaPrioritizeInput } from "@/schemas/qa";
import { currentConfig } from "@/server/config/load";
import { failQa, passQa, prioritizeQa } from "@/server/qa/service";
import { qaDetail, qaQueue } from "@/server/views/qa";
import { procedure, router } from "../init";

/** Manual QA: operators and admins see the QA queue, a request's candidate, and decide. */
export const qaRouter = router({
  queue: procedure("qa.operate").query(async ({ ctx }) =>
    qaQueue(ctx.db, currentConfig(ctx.env.configPath)),
  ),

  detail: procedure("qa.operate")
    .input(z.strictObject({ requestId: z.number().int().positive() }))
    .query(async ({ ctx, input }) =>
      qaDetail(ctx.db, currentConfig(ctx.env.configPath), input.requestId),
    ),

  pass: procedure("qa.operate")
    .input(QaPassInput)
    .mutation(async ({ ctx, input }) => passQa(ctx.db, input, ctx.user)),

  fail: procedure("qa.operate")
    .input(QaFailInput)
    .mutation(async ({ ctx, input }) =>
      failQa(ctx.db, currentConfig(ctx.env.configPath), input, ctx.user),
    ),

  prioritize: procedure("qa.operate")
    .input(QaPrioritizeInput)
    .mutation(async ({ ctx, input }) => prioritizeQa(ctx.db, input, ctx.user)),
});
