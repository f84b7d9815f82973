import { z } from "zod";
import { MetaListInput } from "@/schemas/meta";
import { currentConfig } from "@/server/config/load";
import { submitMetaItem } from "@/server/meta/submit";
import { metaQueue } from "@/server/views/meta";
import { procedure, router } from "../init";

/**
 * The workspace meta queue: operators and admins list its items and submit new ones, each under
 * the source event id the caller gives (the same id again is a no-op that reports the first).
 */
export const metaRouter = router({
  list: procedure("meta.operate")
    .input(MetaListInput)
    .query(async ({ ctx, input }) => metaQueue(ctx.db, input ?? {})),

  // The item is parsed by the service (schemas/meta.ts), so bad input names its field there.
  submit: procedure("meta.operate")
    .input(z.unknown())
    .mutation(async ({ ctx, input }) =>
      submitMetaItem(ctx.db, currentConfig(ctx.env.configPath), ctx.user, input),
    ),
});
