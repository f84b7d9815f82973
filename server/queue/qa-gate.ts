import { and, asc, eq, isNull, sql } from "drizzle-orm";
import type { Policy } from "@/schemas/policy";
import { requestKinds } from "@/schemas/task-request";
import type { LoadedConfig } from "@/server/config/load";
import { policyFor } from "@/server/config/policy";
import type { DbLike } from "@/server/db/client";
import {
  changeRequests,
  qaDecisions,
  queueEntries,
  requestSpecs,
  requests,
  tasks,
} from "@/server/db/schema";
import { jsonText } from "@/server/db/sql";
import { appendEvent } from "@/server/events/log";
import { recordEscalation } from "@/server/state/meta/store";
import { markQaEscalated } from "@/server/state/queue/store";
import { requestOfChange } from "@/server/state/requests/store";
import { patchHash } from "./approval-gate";

type RequestKind = (typeof requestKinds)[number];

// The QA gate, a step of the queue like the approval gate: whether an entry's change needs a
// person's manual QA before it lands (its request's kind is in the policy's `qa.kinds`), and
// whether it has had it (a pass on its exact patch). People's own actions (checkout, pass,
// fail, prioritize) are above the queue, in server/qa/.

/**
 * The kind of the request a change was made for — the requester's, else the one the Engineer
 * inferred (as /history shows it) — or null (a person's or a script's change, no request).
 */
export async function requestKindOf(db: DbLike, changeId: number) {
  const [row] = await db
    .select({
      given: requests.kind,
      inferred: sql<string | null>`${jsonText(requestSpecs.spec, "kind")}`,
      requestId: requests.id,
    })
    .from(changeRequests)
    .innerJoin(tasks, eq(tasks.id, changeRequests.taskId))
    .innerJoin(requests, eq(requests.id, tasks.requestId))
    .leftJoin(requestSpecs, eq(requestSpecs.requestId, requests.id))
    .where(eq(changeRequests.id, changeId))
    .limit(1);
  if (!row) return null;
  const kind = (row.given ?? row.inferred ?? null) as RequestKind | null;
  return { kind: kind && requestKinds.includes(kind) ? kind : null, requestId: row.requestId };
}

/**
 * Whether an entry's change may land as far as manual QA goes: not needed (its request's kind is
 * not in `qa.kinds`, it has no request, or it is a rollback), or passed on its current patch.
 */
export async function qaGate(
  db: DbLike,
  policy: Policy,
  change: { id: number; patch: string; revertOf: number | null },
  entryId: number,
): Promise<{ satisfied: boolean; kind: string | null }> {
  if (change.revertOf !== null) return { satisfied: true, kind: null };
  const of = await requestKindOf(db, change.id);
  const kind = of?.kind ?? null;
  if (!kind || !policy.qa.kinds.includes(kind)) return { satisfied: true, kind };
  const [passed] = await db
    .select({ id: qaDecisions.id })
    .from(qaDecisions)
    .where(
      and(
        eq(qaDecisions.entryId, entryId),
        eq(qaDecisions.patchHash, patchHash(change.patch)),
        eq(qaDecisions.decision, "passed"),
      ),
    )
    .limit(1);
  return { satisfied: passed !== undefined, kind };
}

/** The note of the move into `qa_required`. */
export const qaWaitNote = (kind: string) =>
  `a ${kind} change: waiting for manual QA (hyperion qa checkout, then pass or fail on /qa)`;

/** People's QA failure notes on a task's earlier changes, oldest first: for its next prompt. */
export async function qaFailuresOf(db: DbLike, taskId: string): Promise<string[]> {
  return (
    await db
      .select({ notes: qaDecisions.notes })
      .from(qaDecisions)
      .where(and(eq(qaDecisions.taskId, taskId), eq(qaDecisions.decision, "failed")))
      .orderBy(asc(qaDecisions.id))
  ).map((r) => r.notes);
}

/**
 * Escalates to the operators every entry that has waited in `qa_required` longer than its
 * repository's `qa.escalateAfterMinutes`: once per wait (a compare-and-swap on
 * `qa_escalated_at`), with a `queue` event `qa.escalated` in the same transaction; /qa marks it.
 * Returns the entries escalated now. The queue loop calls it; `now` is injectable for tests.
 */
export async function escalateQaWaits(
  db: DbLike,
  config: LoadedConfig,
  now = Date.now(),
): Promise<number[]> {
  const waiting = await db
    .select({
      id: queueEntries.id,
      repo: queueEntries.repo,
      since: queueEntries.updatedAt,
      change: queueEntries.changeRequestId,
    })
    .from(queueEntries)
    .where(and(eq(queueEntries.state, "qa_required"), isNull(queueEntries.qaEscalatedAt)));
  const escalated: number[] = [];
  for (const w of waiting) {
    const limitMs = policyFor(config, w.repo).qa.escalateAfterMinutes * 60_000;
    if (now - w.since <= limitMs) continue;
    const done = await db.transaction(async (tx) => {
      if (!(await markQaEscalated(tx, w.id, now, now - limitMs))) return false;
      const minutes = Math.floor((now - w.since) / 60_000);
      await appendEvent(tx, {
        topic: "queue",
        type: "qa.escalated",
        entityId: w.id,
        payload: {
          entry: w.id,
          repo: w.repo,
          waitingSince: w.since,
          minutes,
          limitMinutes: limitMs / 60_000,
        },
      });
      // The operators see it in the workspace meta queue too (server/meta), once per wait.
      const { requestId } = await requestOfChange(tx, w.change);
      await recordEscalation(tx, {
        sourceEventId: `qa.escalated:Q${w.id}:${w.since}`,
        repo: w.repo,
        requestId,
        payload: { entry: w.id, minutes, limitMinutes: limitMs / 60_000 },
        effect: `escalated to the operators: ${requestId ? `R${requestId}'s change ` : ""}Q${w.id} has waited ${minutes} min for manual QA in ${w.repo}; the limit is ${limitMs / 60_000} min (see /qa)`,
      });
      return true;
    });
    if (done) escalated.push(w.id);
  }
  return escalated;
}
