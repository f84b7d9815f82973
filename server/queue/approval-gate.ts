import { createHash } from "node:crypto";
import { and, asc, eq, isNull, sql } from "drizzle-orm";
import type { Risk } from "@/schemas/change-request";
import type { ApprovalTier, Policy } from "@/schemas/policy";
import type { DbLike } from "@/server/db/client";
import { approvals, users } from "@/server/db/schema";

// The approval gate, a step of the queue: what an approval names (the exact patch), how many
// an entry's risk needs and has, and what a new patch voids. Reviewers' own actions (approve,
// reject, open the diff) are above the queue, in server/approvals/.

/** What an approval names: the exact patch, so a replaced patch is never approved by accident. */
export function patchHash(patch: string): string {
  return createHash("sha256").update(patch).digest("hex");
}

/**
 * A change's risk: as filed, except that one touching the repository's plan file (policy
 * `plan`) is high, whoever files it: the plan gate opens on that file (docs/worker-factory.md).
 */
export function changeRisk(policy: Policy, paths: readonly string[], filed: Risk): Risk {
  return policy.plan && paths.includes(policy.plan) ? "high" : filed;
}

export function tierFor(policy: Policy, risk: Risk): ApprovalTier {
  return policy.approvals[risk];
}

/** The approvals that count for an entry now: approved, on its current patch, not voided. */
export async function validApprovals(db: DbLike, entryId: number, hash: string) {
  return await db
    .select({ reviewerId: approvals.reviewerId, email: users.email, at: approvals.createdAt })
    .from(approvals)
    .innerJoin(users, eq(users.id, approvals.reviewerId))
    .where(
      and(
        eq(approvals.entryId, entryId),
        eq(approvals.patchHash, hash),
        eq(approvals.decision, "approved"),
        isNull(approvals.voidedReason),
      ),
    )
    .orderBy(asc(approvals.id));
}

/**
 * Whether an entry's change may land, by its risk's tier: how many approvals it needs and has.
 * The queue asks this before landing; an entry that is short waits in `awaiting_approval`.
 */
export async function approvalGate(
  db: DbLike,
  policy: Policy,
  change: { id: number; risk: Risk; patch: string; revertOf: number | null },
  entryId: number,
): Promise<{ satisfied: boolean; needed: number; have: number; tier: ApprovalTier }> {
  const tier = tierFor(policy, change.risk);
  // A rollback was decided by the operator who asked for it: it is not reviewed again.
  if (change.revertOf !== null || tier.approvals === 0)
    return { satisfied: true, needed: 0, have: 0, tier };
  const have = (await validApprovals(db, entryId, patchHash(change.patch))).length;
  return { satisfied: have >= tier.approvals, needed: tier.approvals, have, tier };
}

/**
 * A new patch for a task voids the approvals given to its earlier patches: they judged other
 * code. Called in the transaction that submits the new change; the reason names the new one.
 */
export async function voidEarlierApprovals(
  tx: DbLike,
  taskId: string,
  newChangeId: number,
): Promise<number> {
  return (
    await tx
      .update(approvals)
      .set({ voidedReason: `a new patch (change #${newChangeId}) replaced the one approved` })
      .where(
        and(
          eq(approvals.taskId, taskId),
          eq(approvals.decision, "approved"),
          isNull(approvals.voidedReason),
        ),
      )
      .returning({ one: sql`1` })
  ).length;
}

/** Reviewers' reasons for rejecting a task's earlier changes, oldest first: for its next prompt. */
export async function rejectionsOf(db: DbLike, taskId: string): Promise<string[]> {
  return (
    await db
      .select({ comment: approvals.comment })
      .from(approvals)
      .where(and(eq(approvals.taskId, taskId), eq(approvals.decision, "rejected")))
      .orderBy(asc(approvals.id))
  ).map((r) => r.comment);
}
