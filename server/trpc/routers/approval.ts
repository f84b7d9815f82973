import { z } from "zod";
import { AgentName } from "@/schemas/agents";
import { approveEntry, openDiff, rejectEntry } from "@/server/approvals/service";
import { currentConfig } from "@/server/config/load";
import { listWaiting, waitingCount } from "@/server/views/waiting";
import { procedure, router } from "../init";

const EntryId = z.number().int().positive();

/** Approval gates: reviewers, operators and admins see what waits and decide on it. */
export const approvalRouter = router({
  list: procedure("change.approve").query(async ({ ctx }) =>
    listWaiting(ctx.db, currentConfig(ctx.env.configPath), ctx.user),
  ),

  /** The header's badge: how many changes wait for a reviewer. */
  count: procedure("change.approve").query(async ({ ctx }) => ({
    waiting: await waitingCount(ctx.db),
  })),

  /** The whole diff of an entry's patch; the server records that this user was shown it. */
  diff: procedure("change.approve")
    .input(z.strictObject({ entryId: EntryId }))
    .mutation(async ({ ctx, input }) => openDiff(ctx.db, input.entryId, ctx.user)),

  approve: procedure("change.approve")
    .input(
      z.strictObject({
        entryId: EntryId,
        patchHash: z.string().regex(/^[0-9a-f]{64}$/, "must be the patch's sha256 (64 hex digits)"),
        comment: z.string().max(4000).optional(),
      }),
    )
    .mutation(async ({ ctx, input }) =>
      approveEntry(ctx.db, currentConfig(ctx.env.configPath), input, ctx.user),
    ),

  reject: procedure("change.approve")
    .input(
      z.strictObject({
        entryId: EntryId,
        reason: z.string().max(4000),
        next: z.enum(["redispatch", "close"]).default("redispatch"),
        /** Send the task back to this agent (one the policy names) instead of the policy's choice. */
        agent: AgentName.exclude(["builtin"]).optional(),
      }),
    )
    .mutation(async ({ ctx, input }) =>
      rejectEntry(ctx.db, currentConfig(ctx.env.configPath), input, ctx.user),
    ),
});
