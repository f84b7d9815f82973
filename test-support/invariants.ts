import { and, asc, eq, like, ne } from "drizzle-orm";
import { requestStatuses } from "@/schemas/request-status";
import type { Db } from "@/server/db/client";
import {
  changeQueueLogs,
  events,
  queueEntries,
  requestSpecs,
  requests,
  tasks as tasksTable,
} from "@/server/db/schema";
import { ObjectStore } from "@/server/git/objects";
import { readRefFs } from "@/server/git/refs-fs";
import { requestMachine } from "@/server/state/requests/states";

/**
 * The invariants the model-based test (./state-model.test.ts) checks after every command, read
 * straight from the database's tables and from the branch's commits (what `git log
 * --format=%B main` shows): each returns the problems it found, as sentences, so a failure
 * says what broke and where.
 */

/** A JSON payload's field, as text (what SQLite's json_extract gave), or null. */
const field = (payload: unknown, key: string): string | null => {
  const v = (payload as Record<string, unknown> | null)?.[key];
  return v === undefined || v === null ? null : String(v);
};

/** No task held by two owners: a claimed task has one owner and a lease; no two holders share a key. */
export async function leaseProblems(db: Db): Promise<string[]> {
  const problems: string[] = [];
  const rows = await db
    .select({
      id: tasksTable.id,
      state: tasksTable.state,
      leaseOwner: tasksTable.leaseOwner,
      leaseExpiresAt: tasksTable.leaseExpiresAt,
      lockKeys: tasksTable.lockKeys,
    })
    .from(tasksTable);
  const holders = new Map<string, string>();
  for (const t of rows) {
    if (t.state === "claimed") {
      if (!t.leaseOwner || t.leaseExpiresAt === null)
        problems.push(`task ${t.id} is claimed without an owner or a lease`);
    } else if (t.leaseOwner !== null || t.leaseExpiresAt !== null) {
      problems.push(`task ${t.id} is ${t.state} but still leased to ${t.leaseOwner}`);
    }
    // claimed and submitted tasks hold their lock keys (server/state/tasks/states.ts lockingTaskStates).
    // (A low-risk area with an area lock may share its key by design, gate.ts rule 3; the demo
    // policy has none, its low-risk areas lock by file.)
    if (t.state !== "claimed" && t.state !== "submitted") continue;
    for (const key of t.lockKeys ?? []) {
      const other = holders.get(key);
      if (other) problems.push(`tasks ${other} and ${t.id} both hold the lock ${key}`);
      else holders.set(key, t.id);
    }
  }
  return problems;
}

/**
 * Every task move has its `task.<to>` event, in order: the events of a task (but `task.blocked`,
 * which records a reason without a move) chain from its first state to the one it is in now.
 */
export async function taskEventProblems(db: Db): Promise<string[]> {
  const problems: string[] = [];
  const tasks = await db
    .select({ id: tasksTable.id, source: tasksTable.source, state: tasksTable.state })
    .from(tasksTable);
  const moves = (
    await db
      .select({ type: events.type, payload: events.payload })
      .from(events)
      .where(and(like(events.type, "task.%"), ne(events.type, "task.blocked")))
      .orderBy(asc(events.id))
  ).map((e) => ({
    type: e.type,
    task: field(e.payload, "task") as string,
    from: field(e.payload, "from") as string,
    to: field(e.payload, "to") as string,
  }));
  const byTask = new Map<string, typeof moves>();
  for (const m of moves) byTask.set(m.task, [...(byTask.get(m.task) ?? []), m]);
  for (const t of tasks) {
    let at = t.source === "planner" ? "pending" : "done";
    for (const m of byTask.get(t.id) ?? []) {
      if (m.type !== `task.${m.to}`) problems.push(`task ${t.id}: event ${m.type} says to ${m.to}`);
      if (m.from !== at)
        problems.push(`task ${t.id}: event ${m.type} moves from ${m.from}, but it was ${at}`);
      at = m.to;
    }
    if (at !== t.state)
      problems.push(
        `task ${t.id} is ${t.state}, but its events leave it ${at} (a move unrecorded)`,
      );
  }
  for (const id of byTask.keys())
    if (!tasks.some((t) => t.id === id)) problems.push(`events name task ${id}, which is gone`);
  return problems;
}

/** Every queue entry move has its change_queue_logs row, chained from null to its state now. */
export async function queueLogProblems(db: Db): Promise<string[]> {
  const problems: string[] = [];
  const entries = await db
    .select({ id: queueEntries.id, state: queueEntries.state })
    .from(queueEntries);
  const logs = (
    await db
      .select({ entryId: changeQueueLogs.entryId, event: changeQueueLogs.event })
      .from(changeQueueLogs)
      .orderBy(asc(changeQueueLogs.id))
  ).map((l) => ({
    entryId: l.entryId,
    from: field(l.event, "from"),
    to: field(l.event, "to") as string,
  }));
  const byEntry = new Map<number, typeof logs>();
  for (const l of logs) byEntry.set(l.entryId, [...(byEntry.get(l.entryId) ?? []), l]);
  for (const e of entries) {
    let at: string | null = null;
    for (const l of byEntry.get(e.id) ?? []) {
      if (l.from !== at)
        problems.push(`entry ${e.id}: log row ${l.from} → ${l.to}, but it was ${at}`);
      at = l.to;
    }
    if (at !== e.state)
      problems.push(`entry ${e.id} is ${e.state}, but its last log row says ${at}`);
  }
  return problems;
}

/**
 * Every request is in a known status reached by legal moves, each with its `request.status`
 * event; one that waits on a person or failed says why (a reason, or questions).
 */
export async function requestProblems(db: Db): Promise<string[]> {
  const problems: string[] = [];
  const rows = await db
    .select({ id: requests.id, status: requests.status, questions: requestSpecs.questions })
    .from(requests)
    .leftJoin(requestSpecs, eq(requestSpecs.requestId, requests.id));
  const moves = (
    await db
      .select({ id: events.entityId, payload: events.payload })
      .from(events)
      .where(eq(events.type, "request.status"))
      .orderBy(asc(events.id))
  ).map((e) => ({
    id: e.id as number,
    status: field(e.payload, "status") as string,
    reason: field(e.payload, "reason"),
  }));
  const byRequest = new Map<number, typeof moves>();
  for (const e of moves) byRequest.set(e.id, [...(byRequest.get(e.id) ?? []), e]);
  for (const r of rows) {
    if (!(requestStatuses as readonly string[]).includes(r.status))
      problems.push(`request ${r.id} has an unknown status '${r.status}'`);
    let at = "received";
    let last: (typeof moves)[number] | undefined;
    for (const e of byRequest.get(r.id) ?? []) {
      if (!requestMachine.can(at as never, e.status as never))
        problems.push(`request ${r.id}: recorded move ${at} → ${e.status} is not legal`);
      at = e.status;
      last = e;
    }
    if (at !== r.status)
      problems.push(`request ${r.id} is ${r.status}, but its events leave it ${at}`);
    const questions = r.questions ?? [];
    if (
      (r.status === "needs_clarification" || r.status === "needs_attention") &&
      questions.length === 0 &&
      !last?.reason
    )
      problems.push(`request ${r.id} is ${r.status} with neither questions nor a reason`);
    if (r.status === "failed" && !last?.reason)
      problems.push(`request ${r.id} failed without a reason`);
  }
  return problems;
}

/**
 * Counts `Hyperion-Change-Request: <id>` trailers on main (what `git log --format=%B main`
 * shows), reading commits through one long-lived `git cat-file --batch` and re-walking only
 * when the branch moved.
 */
export class TrailerCounter {
  private tip = "";
  private counts = new Map<number, number>();
  private commits = new Map<string, { parents: string[]; ids: number[] }>();
  private store: ObjectStore | null = null;
  /** `repo` is the repository's path, `gitDir` its git directory (the same when bare). */
  constructor(
    readonly repo: string,
    readonly gitDir: string,
  ) {}

  reset(): void {
    this.tip = "";
  }

  close(): void {
    this.store?.close();
  }

  private async commit(oid: string) {
    const known = this.commits.get(oid);
    if (known) return known;
    this.store ??= await ObjectStore.open(this.repo);
    const text = (await this.store.read(oid, "commit")).toString("utf8");
    const split = text.indexOf("\n\n");
    const header = text.slice(0, split);
    const parents = [...header.matchAll(/^parent ([0-9a-f]{40})$/gm)].map((m) => m[1] ?? "");
    const ids = [...text.slice(split + 2).matchAll(/^Hyperion-Change-Request: (\d+)$/gm)].map((m) =>
      Number(m[1]),
    );
    const commit = { parents, ids };
    this.commits.set(oid, commit);
    return commit;
  }

  async read(): Promise<Map<number, number>> {
    const tip = readRefFs(this.gitDir, "refs/heads/main") ?? "";
    if (tip === this.tip) return this.counts;
    const counts = new Map<number, number>();
    const seen = new Set<string>();
    const todo = tip ? [tip] : [];
    for (let oid = todo.pop(); oid; oid = todo.pop()) {
      if (seen.has(oid)) continue;
      seen.add(oid);
      const c = await this.commit(oid);
      for (const id of c.ids) counts.set(id, (counts.get(id) ?? 0) + 1);
      todo.push(...c.parents);
    }
    this.tip = tip;
    this.counts = counts;
    return counts;
  }
}

/**
 * No change landed twice, and the queue's record agrees with the branch: a merged (or since
 * rolled back) entry's change is on it exactly once, and any other entry's change not at all.
 */
export async function landingProblems(db: Db, trailers: TrailerCounter): Promise<string[]> {
  const problems: string[] = [];
  const counts = await trailers.read();
  for (const [id, n] of counts) if (n > 1) problems.push(`change ${id} landed ${n} times on main`);
  const entries = await db
    .select({
      id: queueEntries.id,
      change: queueEntries.changeRequestId,
      state: queueEntries.state,
    })
    .from(queueEntries);
  for (const e of entries) {
    const n = counts.get(e.change) ?? 0;
    const landed = e.state === "merged" || e.state === "rolled_back";
    if (landed && n !== 1)
      problems.push(`entry ${e.id} is ${e.state} but change ${e.change} is on main ${n} times`);
    if (!landed && n !== 0)
      problems.push(`entry ${e.id} is ${e.state} but change ${e.change} is on main`);
  }
  return problems;
}

export async function allProblems(db: Db, trailers: TrailerCounter): Promise<string[]> {
  return [
    ...(await leaseProblems(db)),
    ...(await taskEventProblems(db)),
    ...(await queueLogProblems(db)),
    ...(await requestProblems(db)),
    ...(await landingProblems(db, trailers)),
  ];
}

/**
 * Requests still open at the end of a drained run (received, planned or in progress), but for
 * those that wait, through their dependsOn, on a request that waits on a person: their tasks
 * are pending with "Waiting on request …" and move once someone answers.
 */
export async function stuckRequests(db: Db): Promise<{ stuck: string[] }> {
  const rows = await db
    .select({ id: requests.id, status: requests.status, deps: requests.dependsOn })
    .from(requests);
  const byId = new Map(rows.map((r) => [r.id, r]));
  const OPEN: string[] = ["received", "planned", "in_progress"];
  const prereqs = (id: number) => byId.get(id)?.deps ?? [];
  const waitsOnPerson = (id: number, seen = new Set<number>()): boolean => {
    if (seen.has(id)) return false;
    seen.add(id);
    return prereqs(id).some((d) => {
      const dep = byId.get(d);
      if (!dep) return false;
      if (dep.status === "needs_clarification" || dep.status === "needs_attention") return true;
      return OPEN.includes(dep.status) && waitsOnPerson(d, seen);
    });
  };
  const out = { stuck: [] as string[] };
  for (const r of rows) {
    if (!OPEN.includes(r.status)) continue;
    const tasks = await db
      .select({
        id: tasksTable.id,
        state: tasksTable.state,
        reason: tasksTable.blockedReason,
        entry: queueEntries.state,
      })
      .from(tasksTable)
      .leftJoin(queueEntries, eq(queueEntries.changeRequestId, tasksTable.changeRequestId))
      .where(eq(tasksTable.requestId, r.id));
    const onlyWaiting =
      r.status !== "received" &&
      tasks.every(
        (t) =>
          t.state === "done" ||
          (t.state === "pending" && (t.reason ?? "").startsWith("Waiting on ")),
      );
    if (onlyWaiting && waitsOnPerson(r.id)) continue;
    out.stuck.push(
      `request ${r.id} is still ${r.status} after draining; it depends on ${
        prereqs(r.id)
          .map((d) => `#${d} (${byId.get(d)?.status})`)
          .join(", ") || "nothing"
      }; tasks: ${
        tasks
          .map(
            (t) =>
              `${t.id} ${t.state}${t.entry ? ` (change ${t.entry})` : ""}${t.reason ? ` (${t.reason})` : ""}`,
          )
          .join("; ") || "none"
      }`,
    );
  }
  return out;
}
