import { eq } from "drizzle-orm";
import { checksForWork } from "@/server/checks/checks";
import type { LoadedConfig } from "@/server/config/load";
import type { Db } from "@/server/db/client";
import { requestSpecs, tasks } from "@/server/db/schema";
import type { TaskRow } from "@/server/dispatcher/dispatch";
import { appendEvent } from "@/server/events/log";
import { ObjectStore } from "@/server/git/objects";
import { readRefFs } from "@/server/git/refs-fs";
import { entryAt } from "@/server/git/tree-edit";
import { policyFor } from "@/server/planner/plan";
import { submitChanges } from "@/server/queue/submit";
import { appendNotePatch, builtinNote } from "./builtin";

export const BUILTIN_AUTHOR = {
  name: "Hyperion built-in developer",
  email: "builtin@hyperion.local",
};

/**
 * Runs the built-in developer on a claimed task and sends its change to the merge queue; the
 * task then waits in `submitted` (still holding its locks) until the change lands.
 */
export async function developTask(
  db: Db,
  config: LoadedConfig,
  task: TaskRow,
): Promise<{ changeRequestId: number } | { failed: string }> {
  const repo = config.repositories.find((r) => r.name === task.repo);
  const finish = (set: Partial<TaskRow>, event: string, payload: Record<string, unknown>) => {
    db.transaction((tx) => {
      tx.update(tasks)
        .set({ ...set, leaseOwner: null, leaseExpiresAt: null, updatedAt: Date.now() })
        .where(eq(tasks.id, task.id))
        .run();
      appendEvent(tx, {
        topic: "request",
        type: event,
        entityId: task.requestId ?? 0,
        payload: { task: task.id, ...payload },
      });
    });
  };
  if (!repo) {
    finish(
      { state: "failed", blockedReason: `repository '${task.repo}' is not configured` },
      "task.failed",
      {},
    );
    return { failed: "repository not configured" };
  }
  const store = await ObjectStore.open(repo.path);
  try {
    const tip = readRefFs(store.gitDir, `refs/heads/${repo.targetBranch}`);
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
    if (patches.length === 0) {
      const reason = `the built-in developer cannot edit ${(task.neededFiles ?? []).join(", ")}; assign an agent`;
      finish({ state: "failed", blockedReason: reason }, "task.failed", { reason });
      return { failed: reason };
    }
    const spec = task.requestId
      ? db.select().from(requestSpecs).where(eq(requestSpecs.requestId, task.requestId)).get()?.spec
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
    );
    const changeRequestId = submitted?.id ?? 0;
    finish({ state: "submitted", changeRequestId }, "task.submitted", { changeRequestId });
    return { changeRequestId };
  } catch (err) {
    const reason = `the built-in developer failed: ${(err as Error).message}`;
    finish({ state: "failed", blockedReason: reason }, "task.failed", { reason });
    return { failed: reason };
  } finally {
    store.close();
  }
}
