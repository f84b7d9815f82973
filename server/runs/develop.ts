import { eq } from "drizzle-orm";
import { checksForWork } from "@/server/checks/checks";
import type { LoadedConfig } from "@/server/config/load";
import { policyFor } from "@/server/config/policy";
import type { Db } from "@/server/db/client";
import { requestSpecs } from "@/server/db/schema";
import { ObjectStore } from "@/server/git/objects";
import { readRefFs } from "@/server/git/refs-fs";
import { entryAt } from "@/server/git/tree-edit";
import { log } from "@/server/log";
import { submitChanges } from "@/server/queue/submit";
import { moveTask, TaskMoveConflict, type TaskRow } from "@/server/state/tasks/store";
import { appendNotePatch, builtinNote } from "./builtin";

export const BUILTIN_AUTHOR = {
  name: "Hyperion built-in developer",
  email: "builtin@hyperion.local",
};

export type DevelopOutcome = { changeRequestId: number } | { failed: string } | { leaseLost: true };

/**
 * Runs the built-in developer on a claimed task and sends its change to the merge queue; the
 * task then waits in `submitted` (still holding its locks) until the change lands. Every move
 * checks this claim's lease: if it expired and another worker took the task, this run stops
 * without writing, and a change it was submitting is rolled back with the move.
 */
export async function developTask(
  db: Db,
  config: LoadedConfig,
  task: TaskRow,
): Promise<DevelopOutcome> {
  const lease = {
    id: task.id,
    from: "claimed" as const,
    owner: task.leaseOwner,
    attempt: task.attempts,
  };
  const leaseLost = (err: TaskMoveConflict): DevelopOutcome => {
    log.info({ task: task.id, reason: err.message }, "lease lost; leaving the task to its holder");
    return { leaseLost: true };
  };
  const fail = async (reason: string): Promise<DevelopOutcome> => {
    try {
      await db.transaction(async (tx) =>
        moveTask(tx, { ...lease, to: "failed", set: { blockedReason: reason }, event: { reason } }),
      );
      return { failed: reason };
    } catch (err) {
      if (err instanceof TaskMoveConflict) return leaseLost(err);
      throw err;
    }
  };
  const repo = config.repositories.find((r) => r.name === task.repo);
  if (!repo) return fail(`repository '${task.repo}' is not configured`);
  const store = await ObjectStore.open(repo.path);
  try {
    const tip = readRefFs(store.gitDir, `refs/heads/${repo.targetBranch}`);
    const patches = await notePatches(store, tip, task);
    if (patches.length === 0) {
      return fail(
        `the built-in developer cannot edit ${(task.neededFiles ?? []).join(", ")}; assign an agent`,
      );
    }
    const spec = task.requestId
      ? (
          await db
            .select()
            .from(requestSpecs)
            .where(eq(requestSpecs.requestId, task.requestId))
            .limit(1)
        )[0]?.spec
      : null;
    const [submitted] = await submitChanges(
      db,
      {
        taskId: task.id,
        repo: task.repo,
        targetBranch: repo.targetBranch,
        ...(tip ? { baseCommit: tip } : {}),
        patch: patches.join(""),
        summary: task.title,
        author: BUILTIN_AUTHOR,
        checks: checksForWork(policyFor(config, task.repo), task.area ? [task.area] : [], [
          ...(task.acceptance ?? []),
          ...(spec?.checks ?? []),
        ]),
        risk: spec?.risk ?? "low",
      },
      config,
      {
        // The change and the move to submitted commit together, or neither does.
        within: async (tx, [change]) => {
          await moveTask(tx, {
            ...lease,
            to: "submitted",
            set: { changeRequestId: change?.id ?? null },
            event: { data: { changeRequestId: change?.id } },
          });
        },
      },
    );
    return { changeRequestId: submitted?.id ?? 0 };
  } catch (err) {
    if (err instanceof TaskMoveConflict) return leaseLost(err);
    return fail(`the built-in developer failed: ${(err as Error).message}`);
  } finally {
    store.close();
  }
}

/** The built-in developer's edit: its note appended to each of the task's files it can edit. */
async function notePatches(
  store: ObjectStore,
  tip: string | null,
  task: TaskRow,
): Promise<string[]> {
  const tree = tip ? await store.commitTree(tip) : null;
  // No text of the request reaches the file: a title is the requester's to write, and in a
  // comment it could end the comment (U+2028 in JavaScript, `--!>` in HTML) and become code.
  const note = builtinNote(task.id);
  const patches: string[] = [];
  for (const file of task.neededFiles ?? []) {
    const entry = tree ? await entryAt(store, tree, file) : null;
    const before = entry
      ? {
          content: (await store.read(entry.oid, "blob")).toString("utf8"),
          oid: entry.oid,
          mode: entry.mode,
        }
      : null;
    const patch = appendNotePatch(file, before, note);
    if (patch) patches.push(patch);
  }
  return patches;
}
