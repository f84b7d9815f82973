import { and, desc, eq, inArray, isNull, lt } from "drizzle-orm";
import { type AlertRule, thresholdMs } from "@/schemas/alerts";
import type { EntryState } from "@/schemas/queue";
import type { DbLike } from "@/server/db/client";
import {
  changeRequests,
  queueEntries,
  remotes,
  tasks,
  verifications,
  workerHeartbeats,
} from "@/server/db/schema";
import type { AlertRow } from "@/server/state/alerts/store";
import { watches } from "./rules";

/** One subject a rule's condition holds for now; `episode` tells this time from an earlier one. */
export type Firing = {
  subjectType: AlertRow["subjectType"];
  subjectId: string;
  episode: string;
  repo: string | null;
  requestId: number | null;
  summary: string;
  detail: Record<string, unknown>;
};

/** Entries still making their way to the target branch (not waiting on a person, not done). */
const MOVING: EntryState[] = ["queued", "applying", "checking", "ready", "retry_wait"];
const RED = ["culprit", "failed"] as const;

const minutes = (ms: number) => {
  const m = Math.round(ms / 60_000);
  return m < 120 ? `${m} min` : `${Math.round(m / 60)} h`;
};

/** What a rule's condition holds for now, one firing per subject. */
export async function firings(
  db: DbLike,
  rule: AlertRule,
  ctx: { now: number; self?: string },
): Promise<Firing[]> {
  const limit = thresholdMs(rule);
  switch (rule.kind) {
    case "entry_quarantined": {
      const rows = await entriesIn(db, ["quarantined"]);
      return rows
        .filter((r) => watches(rule, r.repo))
        .map((r) => ({
          ...entrySubject(r),
          // When it was quarantined: a retry that ends quarantined again is a new episode.
          episode: String(r.finishedAt ?? r.updatedAt),
          summary: `Entry Q${r.id} on ${r.repo}/${r.targetBranch} was quarantined${r.lastError ? `: ${r.lastError.kind.replaceAll("_", " ")}` : ""}`,
          detail: {
            state: r.state,
            ...(r.lastError ? { error: r.lastError.message.slice(0, 500) } : {}),
          },
        }));
    }
    case "approval_waiting": {
      const rows = await entriesIn(db, ["awaiting_approval"]);
      return rows
        .filter((r) => watches(rule, r.repo) && r.updatedAt < ctx.now - limit)
        .map((r) => ({
          ...entrySubject(r),
          episode: "waiting",
          summary: `Entry Q${r.id} on ${r.repo} has waited ${minutes(ctx.now - r.updatedAt)} for approval (more than ${rule.kind === "approval_waiting" ? rule.hours : 0} h)`,
          detail: { waitingSince: r.updatedAt },
        }));
    }
    case "qa_waiting": {
      // Escalated by the queue (server/queue/qa-gate.ts) past its policy's qa.escalateAfterMinutes.
      const rows = await entriesIn(db, ["qa_required"]);
      return rows
        .filter((r) => watches(rule, r.repo) && r.qaEscalatedAt !== null)
        .map((r) => ({
          ...entrySubject(r),
          episode: String(r.qaEscalatedAt),
          summary: `Entry Q${r.id} on ${r.repo}${r.requestId ? ` (R${r.requestId})` : ""} has waited ${minutes(ctx.now - r.updatedAt)} for manual QA (longer than its policy's qa.escalateAfterMinutes); test it on /qa`,
          detail: { waitingSince: r.updatedAt, escalatedAt: r.qaEscalatedAt },
        }));
    }
    case "queue_stalled": {
      const rows = (await entriesIn(db, MOVING)).filter((r) => watches(rule, r.repo));
      // The oldest moving entry of each repository, when it is older than the threshold.
      const oldest = new Map<string, (typeof rows)[number]>();
      for (const r of rows) {
        const known = oldest.get(r.repo);
        if (!known || r.createdAt < known.createdAt) oldest.set(r.repo, r);
      }
      return [...oldest.values()]
        .filter((r) => r.createdAt < ctx.now - limit)
        .map((r) => ({
          ...entrySubject(r),
          episode: "oldest",
          summary: `The oldest entry of ${r.repo}, Q${r.id}, was submitted ${minutes(ctx.now - r.createdAt)} ago and is still ${r.state.replaceAll("_", " ")}`,
          detail: { submittedAt: r.createdAt, state: r.state },
        }));
    }
    case "verification_red": {
      const rows = await db
        .select()
        .from(verifications)
        .where(inArray(verifications.state, ["passed", "flaky", ...RED]))
        .orderBy(desc(verifications.id))
        .limit(500);
      // The latest finished verification of each branch: red until a later one passes.
      const latest = new Map<string, (typeof rows)[number]>();
      for (const v of rows) {
        const key = `${v.repo}\0${v.targetBranch}`;
        if (!latest.has(key)) latest.set(key, v);
      }
      return [...latest.values()]
        .filter((v) => (RED as readonly string[]).includes(v.state) && watches(rule, v.repo))
        .map((v) => ({
          subjectType: "verification" as const,
          subjectId: String(v.id),
          episode: "red",
          repo: v.repo,
          requestId: null,
          summary: `Post-merge verification of ${v.repo}/${v.targetBranch} is red at ${v.headCommit.slice(0, 12)}${v.culpritEntryId ? ` (culprit: entry Q${v.culpritEntryId})` : ""}`,
          detail: {
            branch: v.targetBranch,
            head: v.headCommit,
            state: v.state,
            ...(v.culpritCommit ? { culpritCommit: v.culpritCommit } : {}),
            ...(v.culpritEntryId ? { culpritEntryId: v.culpritEntryId } : {}),
          },
        }));
    }
    case "worker_silent": {
      const rows = await db
        .select()
        .from(workerHeartbeats)
        .where(
          and(
            eq(workerHeartbeats.role, "supervisor"),
            isNull(workerHeartbeats.stoppedAt),
            lt(workerHeartbeats.beatAt, ctx.now - limit),
          ),
        );
      return rows
        .filter((w) => w.id !== ctx.self)
        .map((w) => ({
          subjectType: "host" as const,
          subjectId: w.id,
          episode: String(w.beatAt),
          repo: null,
          requestId: null,
          summary: `Worker ${w.id} on host ${w.host} has not been seen for ${Math.round((ctx.now - w.beatAt) / 1000)} s (more than ${limit / 1000} s) and did not stop cleanly`,
          detail: { host: w.host, pid: w.pid, lastBeatAt: w.beatAt },
        }));
    }
    case "remote_unreachable": {
      const rows = await db.select().from(remotes).where(eq(remotes.failure, "unreachable"));
      return rows
        .filter((r) => watches(rule, r.repo))
        .map((r) => ({
          subjectType: "remote" as const,
          subjectId: r.repo,
          episode: String(r.fetchedAt ?? 0),
          repo: r.repo,
          requestId: null,
          summary: `The remote of ${r.repo} cannot be reached${r.failureMessage ? `: ${r.failureMessage.slice(0, 300)}` : ""}`,
          detail: { failedAt: r.failedAt, lastFetchedAt: r.fetchedAt },
        }));
    }
  }
}

async function entriesIn(db: DbLike, states: EntryState[]) {
  return await db
    .select({
      id: queueEntries.id,
      repo: queueEntries.repo,
      targetBranch: queueEntries.targetBranch,
      state: queueEntries.state,
      lastError: queueEntries.lastError,
      createdAt: queueEntries.createdAt,
      updatedAt: queueEntries.updatedAt,
      finishedAt: queueEntries.finishedAt,
      qaEscalatedAt: queueEntries.qaEscalatedAt,
      requestId: tasks.requestId,
    })
    .from(queueEntries)
    .innerJoin(changeRequests, eq(changeRequests.id, queueEntries.changeRequestId))
    .leftJoin(tasks, eq(tasks.id, changeRequests.taskId))
    .where(inArray(queueEntries.state, states))
    .orderBy(queueEntries.id)
    .limit(1000);
}

function entrySubject(r: { id: number; repo: string; requestId: number | null }) {
  return {
    subjectType: "entry" as const,
    subjectId: String(r.id),
    repo: r.repo,
    requestId: r.requestId ?? null,
  };
}
