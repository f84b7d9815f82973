import { and, desc, eq, inArray } from "drizzle-orm";
import type { EntryState } from "@/schemas/queue";
import type { Db } from "@/server/db/client";
import {
  type changeQueueLogs,
  changeRequests,
  checkRuns,
  queueEntries,
  tasks,
} from "@/server/db/schema";
import type { PipelinePlace } from "@/server/db/schema/queue";
import { pathsOf } from "../state/queue/entries";
import { holdingStates } from "../state/queue/states";

/** Entries still on their way to the branch, a reviewer's wait included. */
export const movingStates: readonly EntryState[] = holdingStates;
export const finishedStates: readonly EntryState[] = ["merged", "rejected", "rolled_back"];

const columns = {
  id: queueEntries.id,
  changeRequestId: queueEntries.changeRequestId,
  repo: queueEntries.repo,
  targetBranch: queueEntries.targetBranch,
  state: queueEntries.state,
  attempts: queueEntries.attempts,
  maxAttempts: queueEntries.maxAttempts,
  nextAttemptAt: queueEntries.nextAttemptAt,
  leaseOwner: queueEntries.leaseOwner,
  lastError: queueEntries.lastError,
  mergedCommit: queueEntries.mergedCommit,
  createdAt: queueEntries.createdAt,
  updatedAt: queueEntries.updatedAt,
  pipeline: queueEntries.pipeline,
  pullRequest: queueEntries.pullRequest,
};

/** Change request id → its summary's first line, its task and the task's request. */
async function changeRefs(db: Db, changeIds: number[]) {
  const ids = [...new Set(changeIds)];
  const rows = ids.length
    ? await db
        .select({
          id: changeRequests.id,
          summary: changeRequests.summary,
          taskId: changeRequests.taskId,
          requestId: tasks.requestId,
        })
        .from(changeRequests)
        .leftJoin(tasks, eq(tasks.id, changeRequests.taskId))
        .where(inArray(changeRequests.id, ids))
    : [];
  return new Map(rows.map((r) => [r.id, r]));
}

/**
 * What an operator reads on /queue, in the order they act on it: the quarantined entries, the
 * ones still moving (and, for a queued one, the earlier entries on its paths it waits behind),
 * and the newest finished ones.
 */
export async function queueBoard(db: Db, opts: { finishedLimit?: number } = {}) {
  const quarantined = await db
    .select(columns)
    .from(queueEntries)
    .where(eq(queueEntries.state, "quarantined"))
    .orderBy(desc(queueEntries.updatedAt))
    .limit(200);
  const moving = await db
    .select(columns)
    .from(queueEntries)
    .where(inArray(queueEntries.state, [...movingStates]))
    .orderBy(queueEntries.id)
    .limit(200);
  const finished = await db
    .select(columns)
    .from(queueEntries)
    .where(inArray(queueEntries.state, [...finishedStates]))
    .orderBy(desc(queueEntries.updatedAt))
    .limit(opts.finishedLimit ?? 100);

  const refs = await changeRefs(
    db,
    [...quarantined, ...moving, ...finished].map((e) => e.changeRequestId),
  );
  const withRefs = <T extends { changeRequestId: number }>(e: T) => {
    const ref = refs.get(e.changeRequestId);
    return {
      ...e,
      summary: ref?.summary.split("\n")[0] ?? "",
      taskId: ref?.taskId ?? "",
      requestId: ref?.requestId ?? null,
    };
  };

  const blockedBy = await blockers(db, moving);
  const eta = await estimates(db, moving);
  return {
    quarantined: quarantined.map(withRefs),
    moving: moving.map((e) => ({
      ...withRefs(e),
      blockedBy: blockedBy.get(e.id) ?? [],
      etaMs: eta.get(e.id) ?? null,
    })),
    finished: finished.map(withRefs),
  };
}

/** What a queued entry waits behind: an earlier entry on one of its paths, and its state. */
export type Blocker = { id: number; state: EntryState };

/**
 * For each queued entry, the earlier entries on one of its paths it waits for: still pending, or
 * waiting for a reviewer (those hold their paths too, see holdingStates).
 */
async function blockers(
  db: Db,
  moving: { id: number; repo: string; state: EntryState }[],
): Promise<Map<number, Blocker[]>> {
  const holding = moving.filter((e) => holdingStates.includes(e.state));
  if (!holding.some((e) => e.state === "queued")) return new Map();
  const paths = await pathsOf(
    db,
    holding.map((e) => e.id),
  );
  const result = new Map<number, Blocker[]>();
  for (const e of holding) {
    if (e.state !== "queued") continue;
    const mine = new Set(paths.get(e.id) ?? []);
    const earlier = holding.filter(
      (o) => o.id < e.id && o.repo === e.repo && (paths.get(o.id) ?? []).some((p) => mine.has(p)),
    );
    if (earlier.length)
      result.set(
        e.id,
        earlier.map((o) => ({ id: o.id, state: o.state })),
      );
  }
  return result;
}

type LogRow = typeof changeQueueLogs.$inferSelect;

/** Log rows with the request each entry serves, so the board can filter its log by R12. */
export async function withRequestIds(db: Db, rows: LogRow[]) {
  const entryIds = [...new Set(rows.map((r) => r.entryId))];
  const found = entryIds.length
    ? await db
        .select({ id: queueEntries.id, requestId: tasks.requestId })
        .from(queueEntries)
        .innerJoin(changeRequests, eq(changeRequests.id, queueEntries.changeRequestId))
        .leftJoin(tasks, eq(tasks.id, changeRequests.taskId))
        .where(inArray(queueEntries.id, entryIds))
    : [];
  const byEntry = new Map(found.map((f) => [f.id, f.requestId]));
  return rows.map((r) => ({ ...r, requestId: byEntry.get(r.entryId) ?? null }));
}

/** The median time a check run at landing took in a repository, from its last 50; null before any. */
export async function medianCheckMs(db: Db, repo: string): Promise<number | null> {
  const rows = (
    await db
      .select({ ms: checkRuns.durationMs })
      .from(checkRuns)
      .where(and(eq(checkRuns.repo, repo), eq(checkRuns.place, "landing")))
      .orderBy(desc(checkRuns.id))
      .limit(50)
  )
    .map((r) => r.ms)
    .sort((a, b) => a - b);
  return rows.length ? (rows[Math.floor(rows.length / 2)] ?? null) : null;
}

/**
 * When each moving entry should land, from the measured check durations: one in a pipeline's
 * round lands when its batch's checks end; a queued one waits the rounds ahead of it (one per
 * window of entries before it on its branch) and then its own. None where no check ran yet.
 */
async function estimates(
  db: Db,
  moving: {
    id: number;
    repo: string;
    targetBranch: string;
    state: EntryState;
    updatedAt: number;
    pipeline: PipelinePlace | null;
  }[],
  now = Date.now(),
): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  const medians = new Map<string, number | null>();
  const median = async (repo: string) => {
    if (!medians.has(repo)) medians.set(repo, await medianCheckMs(db, repo));
    return medians.get(repo) ?? null;
  };
  const queuedBefore = new Map<string, number>();
  for (const e of moving) {
    const m = await median(e.repo);
    if (m === null) continue;
    if (e.pipeline && (e.state === "applying" || e.state === "checking"))
      out.set(e.id, Math.max(0, m - (now - e.updatedAt)));
    else if (e.state === "queued") {
      const key = `${e.repo}\0${e.targetBranch}`;
      const ahead = queuedBefore.get(key) ?? 0;
      queuedBefore.set(key, ahead + 1);
      const window = moving.find((o) => o.repo === e.repo && o.pipeline)?.pipeline?.window ?? 16;
      out.set(e.id, (1 + Math.floor(ahead / window) + 1) * m);
    }
  }
  return out;
}
