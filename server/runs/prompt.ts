import { createHash } from "node:crypto";
import { inArray } from "drizzle-orm";
import type { Db } from "@/server/db/client";
import { changeRequests, tasks } from "@/server/db/schema";
import { rejectionsOf } from "@/server/queue/approval-gate";
import { qaFailuresOf } from "@/server/queue/qa-gate";
import type { TaskRow } from "@/server/state/tasks/store";
import { landingFailuresOf, postMergeFailuresOf } from "@/server/verify/failures";

/**
 * The prompt file an agent gets: minimal, and only from the dispatch arguments — the task, its
 * repository and area, the files it may change, what its dependencies produced, its acceptance
 * criteria and checks, the one rule, and how to finish. The request's own words reach it only
 * through the task's instructions, which the Orchestrator wrote from them.
 */
export async function buildPrompt(
  db: Db,
  task: TaskRow,
  opts: { base: string; checks: string[]; context: string[]; note?: string },
): Promise<{ text: string; hash: string }> {
  const produced = await producedBefore(db, task);
  const files = task.neededFiles ?? [];
  const lines = [
    `# Task ${task.id}: ${task.title}`,
    "",
    `Repository: ${task.repo} · area: ${task.area ?? "—"} · base commit: ${opts.base}`,
    "",
    "## What to do",
    "",
    task.prompt?.instructions?.trim() || task.title,
    ...(task.prompt?.constraints?.length ? ["", list(task.prompt.constraints, "")] : []),
    "",
    "## Files you may change",
    "",
    list(files, "- (none named)"),
    "",
    "Only these files may change. Creating, editing or deleting any other file fails the run.",
    ...(opts.context.length ? ["", "## Context (read only)", "", list(opts.context, "")] : []),
    ...(produced.length
      ? ["", "## What the tasks before this one produced", "", list(produced, "")]
      : []),
    "",
    "## Acceptance",
    "",
    list(task.acceptance ?? [], "- The change does what the task says."),
    "",
    "## Checks that will run on your change",
    "",
    list(opts.checks, "- (none)"),
    ...(opts.note ? ["", "## Note from an operator", "", opts.note] : []),
    ...(await earlierChangesRefused(db, task)),
    "",
    "## How to finish",
    "",
    "Edit the files in your working directory. Do not commit and do not push: when you exit,",
    "Hyperion takes the change from the folder, runs the checks and sends it to the merge queue.",
    "End with a short summary of what you changed. If the task needs no change, change",
    "nothing and end with a message saying why.",
    "",
  ];
  const text = lines.join("\n");
  return { text, hash: createHash("sha256").update(text).digest("hex") };
}

const list = (items: string[], empty: string) =>
  items.length ? items.map((i) => `- ${i}`).join("\n") : empty;

/** What each task this one depends on produced: its change's summary and its files. */
async function producedBefore(db: Db, task: TaskRow): Promise<string[]> {
  const deps = task.dependsOn ?? [];
  const depRows = deps.length
    ? await db
        .select({
          id: tasks.id,
          title: tasks.title,
          files: tasks.neededFiles,
          change: tasks.changeRequestId,
        })
        .from(tasks)
        .where(inArray(tasks.id, deps))
    : [];
  const changeIds = depRows.map((d) => d.change).filter((c): c is number => c !== null);
  const summaries = new Map(
    (changeIds.length
      ? await db
          .select({ id: changeRequests.id, summary: changeRequests.summary })
          .from(changeRequests)
          .where(inArray(changeRequests.id, changeIds))
      : []
    ).map((c) => [c.id, c.summary]),
  );
  return depRows.map(
    (d) =>
      `${d.id} ${d.title}: ${d.change ? (summaries.get(d.change) ?? "") : "no change"} (${(d.files ?? []).join(", ")})`,
  );
}

/**
 * Why earlier changes for this task did not stay: a reviewer's rejections, and post-merge
 * failures that bisection blamed on them (with the checks' output).
 */
async function earlierChangesRefused(db: Db, task: TaskRow): Promise<string[]> {
  const rejections = await rejectionsOf(db, task.id);
  const qaFailures = await qaFailuresOf(db, task.id);
  const postMerge = await postMergeFailuresOf(db, task.id);
  const atLanding = await landingFailuresOf(db, task.id);
  return [
    ...(atLanding.length
      ? [
          "",
          "## An earlier change for this task failed its checks when it was to land",
          "",
          "Its checks passed in your workspace, but not on the target branch as it stands now (other",
          "changes landed meanwhile). Make a change that passes them on the current branch:",
          ...atLanding.flatMap((f) => [
            "",
            `Change #${f.changeId} (queue entry Q${f.entryId}): ${f.message}`,
            "",
            "~~~~",
            f.output.replace(/~~~~/g, "~~~"),
            "~~~~",
          ]),
        ]
      : []),
    ...(rejections.length
      ? [
          "",
          "## A reviewer rejected an earlier change for this task",
          "",
          "Address this in your change:",
          "",
          list(rejections, ""),
        ]
      : []),
    ...(qaFailures.length
      ? [
          "",
          "## Manual QA failed an earlier change for this task",
          "",
          "A person tried the change and it did not behave as asked. Address these notes:",
          "",
          list(qaFailures, ""),
        ]
      : []),
    ...(postMerge.length
      ? [
          "",
          "## An earlier change for this task broke the target branch",
          "",
          "It landed, then the repository's post-merge checks failed on the target branch; bisection",
          "found that change to be the cause, and it is reverted. Make a change that passes them:",
          ...postMerge.flatMap((f) => [
            "",
            `Change #${f.changeId} (commit ${f.commit?.slice(0, 12) ?? "?"}) failed with:`,
            "",
            "~~~~",
            f.output.replace(/~~~~/g, "~~~"),
            "~~~~",
          ]),
        ]
      : []),
  ];
}
