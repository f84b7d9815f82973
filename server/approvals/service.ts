import { and, count, eq } from "drizzle-orm";
import type { AgentName } from "@/schemas/agents";
import type { Policy } from "@/schemas/policy";
import { agentFor, namedAgents } from "@/server/agents/choose";
import { may } from "@/server/auth/permissions";
import type { LoadedConfig } from "@/server/config/load";
import { policyFor } from "@/server/config/policy";
import type { Db, DbLike } from "@/server/db/client";
import {
  approvals,
  changeRequests,
  diffViews,
  queueEntries,
  requests,
  tasks,
} from "@/server/db/schema";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "@/server/errors";
import { patchHash, tierFor, validApprovals } from "@/server/queue/approval-gate";
import { BUILTIN_AUTHOR } from "@/server/runs/develop";
import { moveUnleased } from "@/server/state/queue/store";
import type { User } from "@/server/users/service";

const MAX_COMMENT = 4000;

/** One entry's change with the request (and requester) it comes from. */
async function entryWithChange(db: DbLike, entryId: number) {
  const [row] = await db
    .select({
      entry: queueEntries,
      change: changeRequests,
      requestId: tasks.requestId,
      requesterId: requests.requesterId,
    })
    .from(queueEntries)
    .innerJoin(changeRequests, eq(changeRequests.id, queueEntries.changeRequestId))
    .leftJoin(tasks, eq(tasks.id, changeRequests.taskId))
    .leftJoin(requests, eq(requests.id, tasks.requestId))
    .where(eq(queueEntries.id, entryId))
    .limit(1);
  if (!row) throw new NotFoundError(`no queue entry Q${entryId}`);
  return row;
}

/**
 * Records that the whole diff of an entry's patch was served to this user, and returns it: a
 * `high` tier's approval requires it, so the server — not the page — knows it was shown.
 */
export async function openDiff(db: Db, entryId: number, user: User) {
  const { change, entry } = await entryWithChange(db, entryId);
  const hash = patchHash(change.patch);
  await db
    .insert(diffViews)
    .values({ changeRequestId: change.id, patchHash: hash, userId: user.id, at: Date.now() });
  return { entryId: entry.id, changeId: change.id, patch: change.patch, patchHash: hash };
}

export async function diffShown(
  db: DbLike,
  changeId: number,
  hash: string,
  userId: number,
): Promise<boolean> {
  return (
    ((
      await db
        .select({ n: count() })
        .from(diffViews)
        .where(
          and(
            eq(diffViews.changeRequestId, changeId),
            eq(diffViews.patchHash, hash),
            eq(diffViews.userId, userId),
          ),
        )
        .limit(1)
    )[0]?.n ?? 0) > 0
  );
}

function mustBeWaiting(entryId: number, state: string) {
  if (state !== "awaiting_approval")
    throw new ConflictError(
      `Q${entryId} is ${state.replace("_", " ")}, not waiting for approval; nothing to decide`,
    );
}

export type ApproveInput = { entryId: number; patchHash: string; comment?: string };

/**
 * A reviewer approves an entry's exact patch. Refused, writing nothing: an entry that is not
 * waiting, a patch that was replaced, the requester's own change, a second approval by the same
 * reviewer, a tier that wants the diff opened or a comment and did not get it. When the tier's
 * count is reached the entry goes back to the queue (rebased, re-checked if the tip moved) in
 * the same transaction.
 */
export function approveEntry(db: Db, config: LoadedConfig, input: ApproveInput, user: User) {
  const comment = (input.comment ?? "").trim();
  if (comment.length > MAX_COMMENT)
    throw new ValidationError([
      { path: "comment", message: `is ${comment.length} characters; at most ${MAX_COMMENT}` },
    ]);
  return db.transaction(async (tx) => {
    const { entry, change, requesterId, requestId } = await entryWithChange(tx, input.entryId);
    mustBeWaiting(entry.id, entry.state);
    if (!may(user, "change.approve", { ownerId: requesterId }))
      throw new ForbiddenError(
        requesterId === user.id
          ? `you filed R${requestId}; someone else (a reviewer, operator or admin) must approve its changes`
          : `Your role (${user.role}) does not allow change.approve.`,
      );
    const hash = patchHash(change.patch);
    if (input.patchHash !== hash)
      throw new ConflictError(
        `the patch you reviewed (${input.patchHash.slice(0, 12)}) is not Q${entry.id}'s now (${hash.slice(0, 12)}); open the current diff and review it`,
      );
    const policy = policyFor(config, entry.repo);
    const tier = tierFor(policy, change.risk);
    const given = await validApprovals(tx, entry.id, hash);
    if (given.some((a) => a.reviewerId === user.id))
      throw new ConflictError(`you already approved this patch of Q${entry.id}`);
    const shown = await diffShown(tx, change.id, hash, user.id);
    if (tier.requireDiff && !shown)
      throw new ConflictError(
        `Q${entry.id} is ${change.risk} risk: open its whole diff before approving it`,
      );
    if (tier.requireComment && !comment)
      throw new ValidationError([
        {
          path: "comment",
          message: `a ${change.risk}-risk approval needs a comment saying why it is safe`,
        },
      ]);
    await tx.insert(approvals).values({
      entryId: entry.id,
      changeRequestId: change.id,
      taskId: change.taskId,
      patchHash: hash,
      reviewerId: user.id,
      decision: "approved",
      comment,
      diffShown: shown,
      createdAt: Date.now(),
    });
    const have = given.length + 1;
    const needed = Math.max(tier.approvals, 1);
    if (have >= needed)
      await moveUnleased(tx, entry.id, {
        from: "awaiting_approval",
        to: "queued",
        by: `user:${user.email}`,
        note: `approved by ${user.email}${comment ? `: ${comment}` : ""}`,
      });
    return { entryId: entry.id, approvals: have, needed, queued: have >= needed };
  });
}

export type RejectInput = {
  entryId: number;
  reason: string;
  next: "redispatch" | "close";
  /** Sent back to this agent (one the policy names) rather than the policy's choice. */
  agent?: AgentName;
};

/** The words a rejection of the built-in developer's change is refused or shown with. */
export const BUILTIN_CANNOT_ACT =
  "the built-in developer cannot act on a reason: sent back to it, the task would get the same change again";

/** Whether a change is the built-in developer's own (not an agent run's, not a person's). */
export function madeByBuiltin(change: { runId: number | null; authorEmail: string }): boolean {
  return change.runId === null && change.authorEmail === BUILTIN_AUTHOR.email;
}

/**
 * What a rejection of this change may do with its task: the agents the policy names that it can
 * be handed to, and whether a plain send-back would reach the built-in developer again (for a
 * change the built-in developer made, that is refused: it would repeat the change).
 */
export function rejectOptions(
  policy: Policy,
  change: { runId: number | null; authorEmail: string },
  task: { area: string | null; agent: AgentName | null } | null,
) {
  const builtin = madeByBuiltin(change);
  const backTo = agentFor(policy, task?.area ?? null, task?.agent);
  return {
    builtin,
    handoffAgents: namedAgents(policy),
    /** A plain send-back would repeat the built-in developer's change. */
    sendBackRepeats: builtin && backTo === "builtin",
  };
}

/**
 * A reviewer rejects an entry: the reason is recorded, the entry ends `rejected`, and its task
 * either goes back to the Orchestrator's queue (pending, dispatched again to an agent whose
 * prompt carries the reason — the one the reviewer names, if any) or is closed (failed, with
 * the reason). A change the built-in developer made cannot go back to it: it cannot act on a
 * reason, so the reviewer closes the task or hands it to an agent the policy names.
 */
export function rejectEntry(db: Db, config: LoadedConfig, input: RejectInput, user: User) {
  const reason = input.reason.trim();
  if (!reason)
    throw new ValidationError([
      { path: "reason", message: "say why it is rejected: the developer's next attempt reads it" },
    ]);
  if (reason.length > MAX_COMMENT)
    throw new ValidationError([
      { path: "reason", message: `is ${reason.length} characters; at most ${MAX_COMMENT}` },
    ]);
  if (input.agent && input.next !== "redispatch")
    throw new ValidationError([
      { path: "agent", message: "a closed task goes to no agent; choose to send it back instead" },
    ]);
  return db.transaction(async (tx) => {
    const { entry, change } = await entryWithChange(tx, input.entryId);
    mustBeWaiting(entry.id, entry.state);
    const policy = policyFor(config, entry.repo);
    const [task] = await tx
      .select({ area: tasks.area, agent: tasks.agent })
      .from(tasks)
      .where(eq(tasks.id, change.taskId))
      .limit(1);
    const options = rejectOptions(policy, change, task ?? null);
    const named = options.handoffAgents;
    if (input.agent && !named.includes(input.agent as Exclude<AgentName, "builtin">))
      throw new ValidationError([
        {
          path: "agent",
          message: named.length
            ? `'${input.agent}' is not an agent ${entry.repo}'s policy names; name one of: ${named.join(", ")}`
            : `${entry.repo}'s policy names no agent to hand it to (agents.default, agents.byArea); close the task instead`,
        },
      ]);
    if (input.next === "redispatch" && !input.agent && options.sendBackRepeats)
      throw new ValidationError([
        {
          path: "next",
          message: `C${change.id} is the built-in developer's change, and ${BUILTIN_CANNOT_ACT}. ${
            named.length
              ? `Close the task, or hand it to an agent the policy names (${named.join(", ")}).`
              : "Close the task, or name an agent in the policy (agents.default or agents.byArea) to hand it to."
          }`,
        },
      ]);
    const hash = patchHash(change.patch);
    await tx.insert(approvals).values({
      entryId: entry.id,
      changeRequestId: change.id,
      taskId: change.taskId,
      patchHash: hash,
      reviewerId: user.id,
      decision: "rejected",
      comment: reason,
      next: input.next,
      ...(input.agent ? { agent: input.agent } : {}),
      diffShown: await diffShown(tx, change.id, hash, user.id),
      createdAt: Date.now(),
    });
    // Its task, if this change is the one it submitted, goes back or is closed with the reason,
    // in the entry's move.
    const why = `a reviewer (${user.email}) rejected change #${change.id}: ${reason}${
      input.agent ? ` (handed to the ${input.agent} agent)` : ""
    }`;
    await moveUnleased(tx, entry.id, {
      from: "awaiting_approval",
      to: "rejected",
      by: `user:${user.email}`,
      error: {
        kind: "review_rejected",
        message: `rejected by ${user.email}: ${reason}`,
        paths: [],
      },
      note: `rejected by ${user.email}: ${reason}`,
      task: {
        to: input.next === "redispatch" ? "pending" : "failed",
        reason: why,
        blockedReason: input.next === "redispatch" ? null : why,
        data: { entry: entry.id, next: input.next, ...(input.agent ? { agent: input.agent } : {}) },
        ...(input.agent ? { agent: input.agent } : {}),
      },
    });
    return { entryId: entry.id, next: input.next, agent: input.agent ?? null };
  });
}
