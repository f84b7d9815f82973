import { and, eq, inArray, lt, ne, or } from "drizzle-orm";
import { clipReason } from "@/schemas/bounded";
import type { LoadedConfig } from "@/server/config/load";
import { policyFor } from "@/server/config/policy";
import type { Db, DbLike } from "@/server/db/client";
import { requests, tasks } from "@/server/db/schema";
import { byOverride, overridesInForce, pausedReason } from "@/server/state/meta/overrides";
import { moveRequest } from "@/server/state/requests/store";
import { lockingTaskStates } from "@/server/state/tasks/states";
import { blockTask, moveTask, TaskMoveConflict, type TaskRow } from "@/server/state/tasks/store";
import { leaseLost } from "@/server/workers/heartbeat";
import { type GateResult, gate, type LockHolder } from "./gate";

export const TASK_LEASE_MS = 5 * 60_000;

const holder = (t: TaskRow): LockHolder & { dependsOn: string[] } => ({
  id: t.id,
  repo: t.repo,
  area: t.area,
  lockScope: t.lockScope,
  neededFiles: t.neededFiles ?? [],
  lockKeys: t.lockKeys ?? [],
  dependsOn: t.dependsOn ?? [],
});

/**
 * Whether this dispatcher takes a task that passed the gate: yes; not now (its agent has no
 * free slot here, or runs only in the worker), leaving it pending; or blocked with a reason
 * (its agent is missing or signed out), recorded on the task.
 */
export type Accept = (task: TaskRow) => true | false | { blocked: string };

/**
 * One dispatch pass, as one BEGIN IMMEDIATE transaction so two dispatchers (in two processes)
 * never both win a claim: expired leases give their locks back, then each pending task passes
 * the gate and is claimed (owner, lease, heartbeat) or records why it is blocked.
 */
export async function dispatchOnce(
  db: Db,
  config: LoadedConfig,
  owner: string,
  now = Date.now(),
  leaseMs = TASK_LEASE_MS,
  accept: Accept = () => true,
  /** One repository's tasks (its repository loop's pass, dispatch/loops.ts); all when unset. */
  repo?: string,
): Promise<TaskRow[]> {
  const ofRepo = repo === undefined ? undefined : eq(tasks.repo, repo);
  // The worker calls this every few hundred ms: take the write lock only when there is work.
  const [work] = await db
    .select({ id: tasks.id })
    .from(tasks)
    .where(
      and(
        ofRepo,
        or(
          eq(tasks.state, "pending"),
          and(eq(tasks.state, "claimed"), lt(tasks.leaseExpiresAt, now)),
        ),
      ),
    )
    .limit(1);
  if (!work) return [];
  // The plan gates of the repositories with pending tasks, read (from git) before the write
  // lock is taken: a plan is read once per tip (server/plan caches it). Loaded only where a
  // policy names a plan file.
  const planShut = config.repositories.some((r) => r.policy?.plan)
    ? await (await import("@/server/plan/plan")).planGateReasons(
        db,
        config,
        (
          await db
            .selectDistinct({ repo: tasks.repo })
            .from(tasks)
            .where(and(ofRepo, eq(tasks.state, "pending")))
        ).map((r) => r.repo),
      )
    : new Map<string, string>();
  const pass = await db.transaction(async (tx) => {
    await requeueExpired(tx, now, leaseMs, repo);
    // The operators' overrides from the workspace meta queue (server/meta): a paused
    // repository dispatches nothing, and a priority moves a task ahead of others.
    const overrides = await overridesInForce(tx);
    const pending = byOverride(
      await tx
        .select()
        .from(tasks)
        .where(and(ofRepo, eq(tasks.state, "pending")))
        .orderBy(tasks.requestId, tasks.createdAt, tasks.id),
      overrides,
    );
    if (pending.length === 0) return [];
    const active = (
      await tx
        .select()
        .from(tasks)
        .where(and(ofRepo, inArray(tasks.state, [...lockingTaskStates])))
    ).map(holder);
    const done = await doneTasks(tx, pending);
    const waitingOn = await requestsWaitedOn(tx, pending);
    const claimed: TaskRow[] = [];
    for (const task of pending) {
      const prereqs = task.requestId ? (waitingOn.get(task.requestId) ?? []) : [];
      const paused = overrides.paused.get(task.repo);
      // A shut plan gate is named before anything else the task waits on (gate checks it first).
      const verdict: GateResult = paused
        ? { ok: false, reason: pausedReason(task.repo, paused) }
        : prereqs.length && !planShut.has(task.repo)
          ? { ok: false, reason: waitingOnRequests(prereqs, task.repo) }
          : gate(holder(task), {
              done,
              active,
              policy: policyFor(config, task.repo),
              planShut: planShut.get(task.repo),
            });
      if (!verdict.ok) {
        await holdBack(tx, task, verdict, now);
        continue;
      }
      const taken = await accept(task);
      if (taken !== true) {
        if (taken && task.blockedReason !== clipReason(taken.blocked))
          await blockTask(tx, { id: task.id, state: "pending", reason: taken.blocked, now });
        continue;
      }
      const row = await claim(tx, task, owner, now, leaseMs);
      if (!row) continue;
      active.push(holder(row));
      claimed.push(row);
    }
    return claimed;
  });
  return pass;
}

/** Claimed tasks whose lease is lost (their worker died or stalled) go back to pending. */
async function requeueExpired(
  db: DbLike,
  now: number,
  leaseMs: number,
  repo: string | undefined,
): Promise<void> {
  const expired = await db
    .select()
    .from(tasks)
    .where(
      and(
        repo === undefined ? undefined : eq(tasks.repo, repo),
        eq(tasks.state, "claimed"),
        lt(tasks.leaseExpiresAt, now),
      ),
    );
  for (const task of expired) {
    // A live worker that is only slow keeps its task (server/workers/heartbeat.ts leaseLost).
    if (
      !(await leaseLost(
        db,
        { owner: task.leaseOwner, expiresAt: task.leaseExpiresAt },
        leaseMs,
        now,
      ))
    )
      continue;
    const reason = "lease expired; dispatched again";
    await moveTask(db, {
      id: task.id,
      from: "claimed",
      to: "pending",
      owner: task.leaseOwner,
      attempt: task.attempts,
      set: { blockedReason: reason },
      event: { reason },
      now,
    });
  }
}

/** The tasks the pending ones depend on that are done. */
async function doneTasks(db: DbLike, pending: TaskRow[]): Promise<Set<string>> {
  const deps = [...new Set(pending.flatMap((t) => t.dependsOn ?? []))];
  return new Set(
    deps.length
      ? (
          await db
            .select({ id: tasks.id })
            .from(tasks)
            .where(and(inArray(tasks.id, deps), eq(tasks.state, "done")))
        ).map((r) => r.id)
      : [],
  );
}

/**
 * A request's own dependsOn: its tasks wait until those requests are done (every change of
 * theirs merged), in this repository or another. For each request of the pending tasks, the
 * requests it still waits on, with their repository.
 */
async function requestsWaitedOn(
  db: DbLike,
  pending: TaskRow[],
): Promise<Map<number, { id: number; repo: string }[]>> {
  const requestIds = [
    ...new Set(pending.map((t) => t.requestId).filter((id): id is number => id !== null)),
  ];
  const requestRows = requestIds.length
    ? await db
        .select({ id: requests.id, dependsOn: requests.dependsOn })
        .from(requests)
        .where(inArray(requests.id, requestIds))
    : [];
  const prereqIds = [...new Set(requestRows.flatMap((r) => r.dependsOn))];
  const open = new Map(
    (prereqIds.length
      ? await db
          .select({ id: requests.id, repo: requests.repo })
          .from(requests)
          .where(and(inArray(requests.id, prereqIds), ne(requests.status, "done")))
      : []
    ).map((r) => [r.id, r]),
  );
  return new Map(
    requestRows.map((r) => [
      r.id,
      r.dependsOn.flatMap((d) => {
        const o = open.get(d);
        return o ? [o] : [];
      }),
    ]),
  );
}

/** "Waiting on request 4", naming another repository's: "request 9 in api to land". */
function waitingOnRequests(prereqs: { id: number; repo: string }[], repo: string): string {
  return `Waiting on request ${prereqs.map((p) => (p.repo === repo ? `${p.id}` : `${p.id} in ${p.repo} to land`)).join(", ")}`;
}

/** A task the gate holds back: sent to triage, or blocked with the gate's reason. */
async function holdBack(
  db: DbLike,
  task: TaskRow,
  verdict: Extract<GateResult, { ok: false }>,
  now: number,
): Promise<void> {
  if (verdict.triage)
    await moveTask(db, {
      id: task.id,
      from: "pending",
      to: "triage",
      set: { blockedReason: verdict.reason },
      event: { reason: verdict.reason },
      now,
    });
  // Compared as stored: a reason is clipped at its writer, and an unchanged one is not news.
  else if (task.blockedReason !== clipReason(verdict.reason))
    await blockTask(db, { id: task.id, state: "pending", reason: verdict.reason, now });
}

/**
 * Claims a task for this dispatcher (its request, if planned, is in progress now); null when
 * another dispatcher moved it first.
 */
async function claim(
  db: DbLike,
  task: TaskRow,
  owner: string,
  now: number,
  leaseMs: number,
): Promise<TaskRow | null> {
  let row: TaskRow;
  try {
    row = await moveTask(db, {
      id: task.id,
      from: "pending",
      to: "claimed",
      owner,
      attempt: task.attempts + 1,
      set: { leaseExpiresAt: now + leaseMs, blockedReason: null },
      event: {},
      now,
    });
  } catch (err) {
    if (err instanceof TaskMoveConflict) return null;
    throw err;
  }
  const request = task.requestId
    ? (
        await db
          .select({ status: requests.status })
          .from(requests)
          .where(eq(requests.id, task.requestId))
          .limit(1)
      )[0]
    : undefined;
  if (task.requestId && request?.status === "planned")
    await moveRequest(db, { id: task.requestId, from: "planned", to: "in_progress" });
  return row;
}
