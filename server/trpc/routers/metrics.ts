import { z } from "zod";
import { currentConfig } from "@/server/config/load";
import { metricsHistory, metricsQuery } from "@/server/views/metrics-history";
import { procedure, router } from "../init";

/** The metrics page's figures: `range` hour, day (default) or week; `repo` one repository or all. */
const HistoryInput = z
  .strictObject({ range: z.string().max(20).optional(), repo: z.string().max(200).optional() })
  .optional();

export const metricsRouter = router({
  history: procedure("queue.read")
    .input(HistoryInput)
    .query(async ({ ctx, input }) => {
      const repositories = currentConfig(ctx.env.configPath).repositories.map((r) => r.name);
      const query = metricsQuery(input ?? {}, repositories);
      return { ...(await metricsHistory(ctx.db, query)), repositories };
    }),
});
