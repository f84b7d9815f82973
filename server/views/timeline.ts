import { and, asc, eq, inArray, lt } from "drizzle-orm";
import type { EntryState } from "@/schemas/queue";
import type { Db } from "@/server/db/client";
import {
  changeQueueLogs,
  changeRequests,
  type QueueLogEvent,
  queueEntries,
  queueEntryPaths,
} from "@/server/db/schema";
import { NotFoundError } from "@/server/errors";
import { patchStats } from "@/server/views/request-summary";
import { holdingStates } from "../state/queue/states";
import type { Blocker } from "./board";

/** One line of an entry's timeline: when, and what happened in words a person uses. */
export type TimelineLine = { id: number; at: number; text: string; detail?: string };

const who = (worker: string | null) =>
  !worker ? "" : worker.startsWith("user:") ? ` by ${worker.slice(5)}` : "";

/** One change_queue_logs row in plain words. */
export function explain(e: QueueLogEvent, checks: string[]): TimelineLine["text"] {
  const err = e.error;
  switch (e.to) {
    case "queued":
      if (e.from === null) return "Queued to land";
      if (e.from === "quarantined")
        return `Sent back to the queue${who(e.worker)} with fresh attempts`;
      if (e.from === "awaiting_approval")
        return `Approved — ${e.note ?? `approved${who(e.worker)}`}; back in the queue to be rebased and landed`;
      if (e.from === "qa_required")
        return `QA passed — ${e.note ?? `passed${who(e.worker)}`}; back in the queue to be rebased and landed`;
      return "Its queue thread let go of it (a restart or an expired lease); queued again";
    case "applying":
      return e.from === "ready"
        ? "The branch moved while it waited to land: rebasing onto the new tip"
        : `A queue thread took it (attempt ${e.attempt}) and applies it onto the tip`;
    case "checking":
      return `Applied cleanly; running its checks: ${checks.join(", ") || "—"}`;
    case "ready":
      return e.from === "checking" ? "Its checks passed" : "Applied cleanly; no checks to run";
    case "in_review":
      return `Pull request opened${e.note ? `: ${e.note}` : ""}`;
    case "awaiting_approval":
      return `Waiting for approval: ${e.note ?? "its risk needs a reviewer"}${e.checkedOn ? ` (checks passed on ${e.checkedOn.slice(0, 12)})` : ""}`;
    case "qa_required":
      return `Waiting for manual QA: ${e.note ?? "its request's kind needs QA"}${e.checkedOn ? ` (checks passed on ${e.checkedOn.slice(0, 12)})` : ""}`;
    case "retry_wait":
      return `${err?.kind === "conflict" ? `Conflicted with the branch${err.paths.length ? ` in ${err.paths.join(", ")}` : ""}` : (err?.message ?? "Failed")}; will try again${e.nextAttemptAt ? ` at ${new Date(e.nextAttemptAt).toISOString().slice(11, 19)} UTC` : ""}`;
    case "quarantined":
      return `Quarantined: ${
        err?.kind === "check_failed"
          ? `a check failed — ${err.message}`
          : err?.kind === "check_timeout"
            ? `a check ran out of time — ${err.message}`
            : err?.kind === "conflict"
              ? `it kept conflicting${err.paths.length ? ` in ${err.paths.join(", ")}` : ""} — ${err.message}`
              : (err?.message ?? "it could not land")
      }`;
    case "merged":
      return `Landed as commit ${e.mergedCommit?.slice(0, 12) ?? "?"}${e.warning ? ` (note: ${e.warning})` : ""}`;
    case "rolled_back":
      return `Rolled back${who(e.worker)}: a revert landed`;
    case "rejected":
      return err?.kind === "review_rejected" || err?.kind === "qa_failed"
        ? `Rejected — ${err.message}`
        : `Rejected: ${err?.message ?? "its request was cancelled"}`;
    default:
      return e.to;
  }
}

/** What the reader can do about an entry in this state. */
export function nextStep(state: EntryState, blockedBy: Blocker[]): string {
  switch (state) {
    case "queued": {
      if (!blockedBy.length) return "A queue thread takes it within a moment.";
      const names = (bs: Blocker[]) => bs.map((b) => `Q${b.id}`).join(", ");
      const reviewed = blockedBy.filter((b) => b.state === "awaiting_approval");
      const moving = blockedBy.filter((b) => b.state !== "awaiting_approval");
      return [
        reviewed.length
          ? `It waits behind ${names(reviewed)}, which change${reviewed.length === 1 ? "s" : ""} the same paths and wait${reviewed.length === 1 ? "s" : ""} for a reviewer on /approvals; it lands after ${reviewed.length === 1 ? "that one is" : "they are"} approved and landed, or rejected.`
          : "",
        moving.length
          ? `It waits behind ${names(moving)}, which change the same paths and were queued first.`
          : "",
      ]
        .filter(Boolean)
        .join(" ");
    }
    case "applying":
    case "checking":
    case "ready":
      return "A queue thread is landing it now; nothing to do.";
    case "retry_wait":
      return "It is retried by itself; if it keeps failing it is quarantined.";
    case "awaiting_approval":
      return "A reviewer, operator or admin who did not file its request approves or rejects it on /approvals.";
    case "qa_required":
      return "A person tests its candidate (`hyperion qa checkout`) and passes it, or fails it with notes, on /qa; an operator orders the QA queue there.";
    case "in_review":
      return "Its pull request is open on the forge, whose checks, reviewers and merge queue have the last word: Hyperion records it merged, or rejected if it is closed without merging.";
    case "quarantined":
      return "Read the failure and its output, fix the cause (a new change, or the repository), then Retry it from /queue or `hyperion retry`.";
    case "merged":
      return "It is on the branch. An operator or reviewer can roll it back.";
    case "rejected":
      return "It will not land. Its task was sent back to an agent or closed, as the reviewer chose.";
    case "rolled_back":
      return "It was reverted; its revert is a queue entry of its own.";
  }
}

/** An entry's page: its change, every move in words, what blocks it, and what to do next. */
export async function entryTimeline(db: Db, entryId: number) {
  const [entry] = await db.select().from(queueEntries).where(eq(queueEntries.id, entryId)).limit(1);
  if (!entry) throw new NotFoundError(`no queue entry Q${entryId}`);
  const [change] = await db
    .select({
      id: changeRequests.id,
      taskId: changeRequests.taskId,
      summary: changeRequests.summary,
      checks: changeRequests.checks,
      risk: changeRequests.risk,
      revertOf: changeRequests.revertOf,
      runId: changeRequests.runId,
      patch: changeRequests.patch,
    })
    .from(changeRequests)
    .where(eq(changeRequests.id, entry.changeRequestId))
    .limit(1);
  const logs = await db
    .select()
    .from(changeQueueLogs)
    .where(eq(changeQueueLogs.entryId, entryId))
    .orderBy(asc(changeQueueLogs.id));
  const lines: TimelineLine[] = logs.map((l) => ({
    id: l.id,
    at: l.at,
    text: explain(l.event, change?.checks ?? []),
    ...(l.event.error?.outputTail ? { detail: l.event.error.outputTail } : {}),
  }));
  // Earlier entries still pending on a path this one changes: what it waits behind.
  const paths = (
    await db
      .select({ path: queueEntryPaths.path })
      .from(queueEntryPaths)
      .where(eq(queueEntryPaths.entryId, entryId))
  ).map((p) => p.path);
  const blockedBy: Blocker[] =
    entry.state === "queued" && paths.length
      ? [
          ...new Map(
            (
              await db
                .select({ id: queueEntries.id, state: queueEntries.state })
                .from(queueEntryPaths)
                .innerJoin(queueEntries, eq(queueEntries.id, queueEntryPaths.entryId))
                .where(
                  and(
                    eq(queueEntryPaths.repo, entry.repo),
                    inArray(queueEntryPaths.path, paths),
                    lt(queueEntries.id, entryId),
                    inArray(queueEntries.state, [...holdingStates]),
                  ),
                )
                .orderBy(asc(queueEntries.id))
            ).map((r) => [r.id, r] as const),
          ).values(),
        ]
      : [];
  const { patch, ...changeShown } = change ?? { patch: "" };
  return {
    stats: patchStats(patch),
    entry: {
      id: entry.id,
      state: entry.state,
      repo: entry.repo,
      targetBranch: entry.targetBranch,
      attempts: entry.attempts,
      maxAttempts: entry.maxAttempts,
      mergedCommit: entry.mergedCommit,
      lastError: entry.lastError,
      pipeline: entry.pipeline,
      pullRequest: entry.pullRequest,
    },
    change: change ? (changeShown as Omit<NonNullable<typeof change>, "patch">) : null,
    paths,
    lines,
    blockedBy,
    next: nextStep(entry.state, blockedBy),
  };
}
