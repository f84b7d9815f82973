import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import type { EntryError, EntryState } from "@/schemas/queue";
import { changeRequests } from "./change-requests";

/**
 * An entry's place in a speculative pipeline's round (queue/pipeline-rounds.ts), for /queue:
 * batch `batch` of `of` stacked on entry `stackedOn` (null: on the tip), or a probe checked alone
 * on the clean stack while the lane bisects.
 */
/** A pull request a change went out in (land "pull-request"): on which branch, where to see it. */
export type PullRequestRef = { number: number; url: string; branch: string };

export type PipelinePlace = {
  round: number;
  role: "stacked" | "probe";
  batch: number;
  of: number;
  size: number;
  stackedOn: number | null;
  window: number;
};

/** One change request's place in the merge queue; `id` order is submission order. */
export const queueEntries = sqliteTable(
  "queue_entries",
  {
    id: integer().primaryKey({ autoIncrement: true }),
    changeRequestId: integer("change_request_id")
      .notNull()
      .unique()
      .references(() => changeRequests.id),
    repo: text().notNull(),
    targetBranch: text("target_branch").notNull(),
    state: text().$type<EntryState>().notNull(),
    /** The state the last claim took the entry from (SET sees the old row), for the log. */
    claimedFrom: text("claimed_from").$type<EntryState>(),
    attempts: integer().notNull().default(0),
    maxAttempts: integer("max_attempts").notNull(),
    nextAttemptAt: integer("next_attempt_at").notNull(),
    leaseOwner: text("lease_owner"),
    leaseExpiresAt: integer("lease_expires_at"),
    heartbeatAt: integer("heartbeat_at"),
    lastError: text("last_error", { mode: "json" }).$type<EntryError>(),
    mergedCommit: text("merged_commit"),
    /** Where the pipeline last put it: its batch, what it is stacked on, whether it is a probe. */
    pipeline: text({ mode: "json" }).$type<PipelinePlace>(),
    /** Its repository's policy lands it through the speculative pipeline (set when queued). */
    pipelined: integer({ mode: "boolean" }).notNull().default(false),
    /** Claimed into a speculative pipeline's lane: other threads leave its branch to its owner. */
    inLane: integer("in_lane", { mode: "boolean" }).notNull().default(false),
    /**
     * Its lane on its branch: "" for the branch's one lane; with lanes by area, its area, or
     * "*" for a change across areas (which no other lane of the branch runs beside).
     */
    lane: text().notNull().default(""),
    /** Land "pull-request": the pull request its commit went out in (remotes/forge.ts). */
    pullRequest: text("pull_request", { mode: "json" }).$type<PullRequestRef>(),
    /** The operator's QA queue: a priority set over its request's (`hyperion qa prioritize`). */
    qaPriority: text("qa_priority").$type<"low" | "normal" | "high">(),
    /** When its wait for manual QA was escalated to the operators (once per wait). */
    qaEscalatedAt: integer("qa_escalated_at"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    finishedAt: integer("finished_at"),
  },
  (t) => [
    index("queue_entries_state_idx").on(t.state, t.nextAttemptAt),
    index("queue_entries_lease_idx").on(t.leaseExpiresAt),
  ],
);

/** The paths an entry's patch touches, so overlapping entries land in submission order. */
export const queueEntryPaths = sqliteTable(
  "queue_entry_paths",
  {
    entryId: integer("entry_id")
      .notNull()
      .references(() => queueEntries.id),
    repo: text().notNull(),
    path: text().notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.entryId, t.path] }),
    index("queue_entry_paths_path_idx").on(t.repo, t.path, t.entryId),
  ],
);

/** Append-only: one row per transition. The source for replay and for the live queue page. */
export const changeQueueLogs = sqliteTable(
  "change_queue_logs",
  {
    id: integer().primaryKey({ autoIncrement: true }),
    entryId: integer("entry_id").notNull(),
    event: text({ mode: "json" }).$type<QueueLogEvent>().notNull(),
    at: integer().notNull(),
  },
  (t) => [index("change_queue_logs_entry_idx").on(t.entryId, t.id)],
);

export type QueueLogEvent = {
  entryId: number;
  from: EntryState | null;
  to: EntryState;
  worker: string | null;
  attempt: number;
  durationMs?: number;
  error?: EntryError;
  mergedCommit?: string;
  nextAttemptAt?: number;
  /** Something the landing could not do but that did not stop it (a worktree left stale). */
  warning?: string;
  /** Waiting for approval: the tip its checks passed on (an unchanged tip is not re-checked). */
  checkedOn?: string;
  /** In words, for the entry's timeline: who approved or rejected it, and why. */
  note?: string;
};
