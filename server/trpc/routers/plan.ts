import { z } from "zod";
import { currentConfig } from "@/server/config/load";
import { approvePlan } from "@/server/plan/plan";
import { planPage } from "@/server/views/plans";
import { procedure, router } from "../init";

const RepoName = z.string().min(1, "must name a repository").max(200);

/** Repositories' plan gates: everyone sees them; admins approve a plan's text. */
export const planRouter = router({
  /** Every repository with a plan file: its gate, and (for `repo`) the diff from the approved text. */
  list: procedure("request.read").query(async ({ ctx }) =>
    planPage(ctx.db, currentConfig(ctx.env.configPath), ctx.user),
  ),

  approve: procedure("plan.approve")
    .input(
      z.strictObject({
        repo: RepoName,
        textHash: z.string().regex(/^[0-9a-f]{64}$/, "must be the plan's sha256 (64 hex digits)"),
      }),
    )
    .mutation(async ({ ctx, input }) =>
      approvePlan(ctx.db, currentConfig(ctx.env.configPath), input.repo, ctx.user, input.textHash),
    ),
});
