import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { and, asc, eq } from "drizzle-orm";
import { notesProblem, type QaPriority } from "@/schemas/qa";
import { agentFor } from "@/server/agents/choose";
import { madeByBuiltin } from "@/server/approvals/service";
import type { LoadedConfig } from "@/server/config/load";
import { policyFor } from "@/server/config/policy";
import type { Db, DbLike } from "@/server/db/client";
import { changeRequests, qaDecisions, queueEntries, requests, tasks } from "@/server/db/schema";
import { ConflictError, NotFoundError, ValidationError } from "@/server/errors";
import { appendEvent } from "@/server/events/log";
import { exportCommit } from "@/server/git/export";
import { ObjectStore } from "@/server/git/objects";
import { readRefFs } from "@/server/git/refs-fs";
import { patchHash } from "@/server/queue/approval-gate";
import { buildCandidate } from "@/server/queue/land";
import { moveUnleased, setQaPriority } from "@/server/state/queue/store";
import type { User } from "@/server/users/service";

// People's side of the QA gate (the queue's side is server/queue/qa-gate.ts): a request's
// changes waiting in `qa_required` are written out as the queue would land them, tested by a
// person, and passed (back to the queue) or failed with notes (rejected; their tasks reopened
// with the notes in the next prompt, as a reviewer's rejection does). An operator orders the
// QA queue across repositories with a priority override.

/** A request's changes waiting for manual QA, oldest entry first. */
export async function waitingForQa(db: DbLike, requestId: number) {
  return await db
    .select({ entry: queueEntries, change: changeRequests, taskId: tasks.id })
    .from(queueEntries)
    .innerJoin(changeRequests, eq(changeRequests.id, queueEntries.changeRequestId))
    .innerJoin(tasks, eq(tasks.id, changeRequests.taskId))
    .where(and(eq(tasks.requestId, requestId), eq(queueEntries.state, "qa_required")))
    .orderBy(asc(queueEntries.id));
}

async function mustWait(db: DbLike, requestId: number) {
  const [request] = await db
    .select({ id: requests.id })
    .from(requests)
    .where(eq(requests.id, requestId))
    .limit(1);
  if (!request) throw new NotFoundError(`no request R${requestId}`);
  const rows = await waitingForQa(db, requestId);
  if (!rows.length)
    throw new ConflictError(
      `R${requestId} has no change waiting for QA; /qa lists the requests that do`,
    );
  return rows;
}

/** One person's QA decision on one waiting change, as it stands: its patch's hash is kept. */
async function recordDecision(
  tx: DbLike,
  {
    entry,
    change,
  }: { entry: { id: number }; change: { id: number; taskId: string; patch: string } },
  user: User,
  decision: "passed" | "failed",
  notes: string,
  now: number,
) {
  await tx.insert(qaDecisions).values({
    entryId: entry.id,
    changeRequestId: change.id,
    taskId: change.taskId,
    patchHash: patchHash(change.patch),
    userId: user.id,
    decision,
    notes,
    createdAt: now,
  });
}

/**
 * A person passes a request's QA: each of its changes waiting in `qa_required` goes back to the
 * queue (rebased and re-checked if the branch moved since its checks passed), in one transaction.
 */
export function passQa(db: Db, input: { requestId: number }, user: User) {
  return db.transaction(async (tx) => {
    const rows = await mustWait(tx, input.requestId);
    const now = Date.now();
    for (const { entry, change } of rows) {
      await recordDecision(tx, { entry, change }, user, "passed", "", now);
      await moveUnleased(tx, entry.id, {
        from: "qa_required",
        to: "queued",
        by: `user:${user.email}`,
        note: `QA passed by ${user.email}`,
      });
    }
    return { requestId: input.requestId, entries: rows.map((r) => r.entry.id) };
  });
}

/** The notes of a fail: required, bounded, without control characters; else a field error. */
export function checkNotes(raw: string): string {
  const problem = notesProblem(raw);
  if (problem) throw new ValidationError([{ path: "notes", message: problem }]);
  const notes = raw.trim();
  if (!notes)
    throw new ValidationError([
      {
        path: "notes",
        message: "say what failed and how to reproduce it: the developer's next attempt reads it",
      },
    ]);
  return notes;
}

/**
 * A person fails a request's QA with notes: each waiting change is rejected, and its task goes
 * back to the Orchestrator (pending, dispatched again with the notes in its prompt, as after a
 * reviewer's rejection) — or, for the built-in developer's change, which cannot act on notes
 * and would repeat itself, is closed (failed) with them. Nothing is written on bad notes.
 */
export async function failQa(
  db: Db,
  config: LoadedConfig,
  input: { requestId: number; notes: string },
  user: User,
) {
  const notes = checkNotes(input.notes);
  return await db.transaction(async (tx) => {
    const rows = await mustWait(tx, input.requestId);
    const now = Date.now();
    const reopened: string[] = [];
    for (const { entry, change } of rows) {
      const policy = policyFor(config, entry.repo);
      const [task] = await tx
        .select({ area: tasks.area, agent: tasks.agent })
        .from(tasks)
        .where(eq(tasks.id, change.taskId))
        .limit(1);
      const repeats =
        madeByBuiltin(change) && agentFor(policy, task?.area ?? null, task?.agent) === "builtin";
      await recordDecision(tx, { entry, change }, user, "failed", notes, now);
      const why = `manual QA by ${user.email} failed change #${change.id}: ${notes}`;
      await moveUnleased(tx, entry.id, {
        from: "qa_required",
        to: "rejected",
        by: `user:${user.email}`,
        error: { kind: "qa_failed", message: `QA failed by ${user.email}: ${notes}`, paths: [] },
        note: `QA failed by ${user.email}: ${notes}`,
        task: {
          to: repeats ? "failed" : "pending",
          reason: why,
          blockedReason: repeats ? why : null,
          data: { entry: entry.id, qaFailed: true },
        },
      });
      if (!repeats) reopened.push(change.taskId);
    }
    return { requestId: input.requestId, entries: rows.map((r) => r.entry.id), reopened };
  });
}

/**
 * The operator's override of where a request stands in the QA queue: its waiting changes take
 * this priority over the request's own. Not a move (the state stays); a `queue` event says it.
 */
export function prioritizeQa(
  db: Db,
  input: { requestId: number; priority: QaPriority },
  user: User,
) {
  return db.transaction(async (tx) => {
    const rows = await mustWait(tx, input.requestId);
    await setQaPriority(
      tx,
      rows.map((r) => r.entry.id),
      input.priority,
    );
    await appendEvent(tx, {
      topic: "queue",
      type: "qa.prioritized",
      entityId: rows[0]?.entry.id,
      payload: { request: input.requestId, priority: input.priority, by: user.email },
    });
    return { requestId: input.requestId, priority: input.priority };
  });
}

/**
 * Writes a request's candidate — its waiting changes applied, in queue order, onto its target
 * branch's tip as it is now, as the queue would land them — into `dir`, a folder that must not
 * exist yet or be empty. No working tree of the repository is touched.
 */
export async function checkoutQa(
  db: Db,
  config: LoadedConfig,
  input: { requestId: number; dir: string },
) {
  const rows = await mustWait(db, input.requestId);
  const first = rows[0];
  if (!first) throw new ConflictError(`R${input.requestId} has no change waiting for QA`);
  const dir = path.resolve(input.dir);
  if (fs.existsSync(dir) && (!fs.statSync(dir).isDirectory() || fs.readdirSync(dir).length > 0))
    throw new ValidationError([
      { path: "dir", message: `${dir} exists and is not an empty folder; name a new one` },
    ]);
  const repo = config.repositories.find((r) => r.name === first.entry.repo);
  if (!repo) throw new NotFoundError(`repository '${first.entry.repo}' is no longer configured`);
  const store = await ObjectStore.open(repo.path);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hyperion-qa-"));
  try {
    const tip = readRefFs(store.gitDir, `refs/heads/${first.entry.targetBranch}`);
    let commit = tip;
    for (const { change } of rows) commit = (await buildCandidate(store, change, commit)).commit;
    if (!commit) throw new ConflictError(`R${input.requestId}'s candidate is empty`);
    fs.mkdirSync(dir, { recursive: true });
    await exportCommit(store.gitDir, commit, dir, tmp);
    return {
      requestId: input.requestId,
      dir,
      commit,
      tip,
      branch: first.entry.targetBranch,
      repo: repo.name,
      entries: rows.map((r) => r.entry.id),
    };
  } finally {
    store.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
