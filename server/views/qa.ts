import { and, asc, desc, eq, inArray } from "drizzle-orm";
import { priorities } from "@/schemas/task-request";
import type { LoadedConfig } from "@/server/config/load";
import { policyFor } from "@/server/config/policy";
import type { DbLike } from "@/server/db/client";
import {
  changeQueueLogs,
  changeRequests,
  checkRuns,
  queueEntries,
  requests,
  tasks,
} from "@/server/db/schema";
import { NotFoundError } from "@/server/errors";
import { requestKindOf } from "@/server/queue/qa-gate";

// The QA page's read model: the operator's QA queue (the seed's workspace meta queue for QA)
// — what to test next across repositories, one at a time, by priority then age — and each
// repository's QA micro queue, the concrete requests waiting there.

type Priority = (typeof priorities)[number];

export type QaItem = {
  requestId: number;
  title: string;
  repo: string;
  kind: string | null;
  /** The priority it is ordered by: the operator's override, else the request's own. */
  priority: Priority;
  requestPriority: Priority;
  overridden: boolean;
  /** When its first waiting change entered `qa_required`. */
  waitingSince: number;
  waitingMinutes: number;
  /** Waited longer than its repository's `qa.escalateAfterMinutes` (the operators were told). */
  escalated: boolean;
  escalateAfterMinutes: number;
  entries: { id: number; changeId: number; summary: string; targetBranch: string }[];
};

const rank = (p: Priority) => priorities.indexOf(p);

/** Orders QA items: higher priority first, then the longest waiting, then the lower request id. */
export function qaOrder(a: QaItem, b: QaItem): number {
  return (
    rank(b.priority) - rank(a.priority) ||
    a.waitingSince - b.waitingSince ||
    a.requestId - b.requestId
  );
}

/**
 * The QA queue now: every request with changes waiting in `qa_required`, in the order a person
 * tests them (`next` is the head), and the same items per repository.
 */
export async function qaQueue(db: DbLike, config: LoadedConfig, now = Date.now()) {
  const rows = await db
    .select({
      entry: {
        id: queueEntries.id,
        repo: queueEntries.repo,
        targetBranch: queueEntries.targetBranch,
        updatedAt: queueEntries.updatedAt,
        qaPriority: queueEntries.qaPriority,
        qaEscalatedAt: queueEntries.qaEscalatedAt,
      },
      changeId: changeRequests.id,
      summary: changeRequests.summary,
      requestId: requests.id,
      title: requests.title,
      priority: requests.priority,
    })
    .from(queueEntries)
    .innerJoin(changeRequests, eq(changeRequests.id, queueEntries.changeRequestId))
    .innerJoin(tasks, eq(tasks.id, changeRequests.taskId))
    .innerJoin(requests, eq(requests.id, tasks.requestId))
    .where(eq(queueEntries.state, "qa_required"))
    .orderBy(asc(queueEntries.id));
  const items = new Map<number, QaItem>();
  for (const r of rows) {
    const limit = policyFor(config, r.entry.repo).qa.escalateAfterMinutes;
    let item = items.get(r.requestId);
    if (!item) {
      const kind = (await requestKindOf(db, r.changeId))?.kind ?? null;
      item = {
        requestId: r.requestId,
        title: r.title,
        repo: r.entry.repo,
        kind,
        priority: r.priority,
        requestPriority: r.priority,
        overridden: false,
        waitingSince: r.entry.updatedAt,
        waitingMinutes: 0,
        escalated: false,
        escalateAfterMinutes: limit,
        entries: [],
      };
      items.set(r.requestId, item);
    }
    if (
      r.entry.qaPriority &&
      (!item.overridden || rank(r.entry.qaPriority) > rank(item.priority))
    ) {
      item.priority = r.entry.qaPriority;
      item.overridden = true;
    }
    item.waitingSince = Math.min(item.waitingSince, r.entry.updatedAt);
    item.escalated ||= r.entry.qaEscalatedAt !== null;
    item.entries.push({
      id: r.entry.id,
      changeId: r.changeId,
      summary: r.summary.split("\n")[0] ?? "",
      targetBranch: r.entry.targetBranch,
    });
  }
  const order = [...items.values()]
    .map((i) => ({
      ...i,
      waitingMinutes: Math.max(0, Math.floor((now - i.waitingSince) / 60_000)),
    }))
    .sort(qaOrder);
  const byRepo = new Map<string, QaItem[]>();
  for (const i of order) byRepo.set(i.repo, [...(byRepo.get(i.repo) ?? []), i]);
  return {
    next: order[0] ?? null,
    order,
    repos: [...byRepo.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([repo, list]) => ({ repo, items: list })),
  };
}

export type QaQueue = Awaited<ReturnType<typeof qaQueue>>;

/**
 * One request's QA: the request (its words and acceptance criteria), its waiting changes with
 * their diffs, and the checks each ran at landing.
 */
export async function qaDetail(db: DbLike, config: LoadedConfig, requestId: number) {
  const [request] = await db.select().from(requests).where(eq(requests.id, requestId)).limit(1);
  if (!request) throw new NotFoundError(`no request R${requestId}`);
  const queue = await qaQueue(db, config);
  const item = queue.order.find((i) => i.requestId === requestId) ?? null;
  const entryIds = item?.entries.map((e) => e.id) ?? [];
  const changes = entryIds.length
    ? await db
        .select({
          entryId: queueEntries.id,
          changeId: changeRequests.id,
          summary: changeRequests.summary,
          patch: changeRequests.patch,
          checks: changeRequests.checks,
          taskId: changeRequests.taskId,
        })
        .from(queueEntries)
        .innerJoin(changeRequests, eq(changeRequests.id, queueEntries.changeRequestId))
        .where(inArray(queueEntries.id, entryIds))
        .orderBy(asc(queueEntries.id))
    : [];
  const runs = entryIds.length
    ? await db
        .select({
          entryId: checkRuns.entryId,
          check: checkRuns.check,
          outcome: checkRuns.outcome,
          commit: checkRuns.commit,
          durationMs: checkRuns.durationMs,
          at: checkRuns.at,
        })
        .from(checkRuns)
        .where(and(inArray(checkRuns.entryId, entryIds), eq(checkRuns.place, "landing")))
        .orderBy(desc(checkRuns.id))
    : [];
  const waits = entryIds.length
    ? await db
        .select({ entryId: changeQueueLogs.entryId, event: changeQueueLogs.event })
        .from(changeQueueLogs)
        .where(inArray(changeQueueLogs.entryId, entryIds))
        .orderBy(desc(changeQueueLogs.id))
    : [];
  return {
    request: {
      id: request.id,
      title: request.title,
      description: request.description,
      acceptance: request.acceptance,
      repo: request.repo,
      status: request.status,
    },
    item,
    changes: changes.map((c) => ({
      ...c,
      checkedOn:
        waits.find((w) => w.entryId === c.entryId && w.event.to === "qa_required")?.event
          .checkedOn ?? null,
      checkRuns: runs.filter((r) => r.entryId === c.entryId),
    })),
  };
}

export type QaDetail = Awaited<ReturnType<typeof qaDetail>>;
