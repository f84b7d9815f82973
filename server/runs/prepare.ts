import fs from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import type { Policy } from "@/schemas/policy";
import { checksForWork } from "@/server/checks/checks";
import { policyFor } from "@/server/config/policy";
import type { RunDir } from "@/server/confine/run";
import { requestSpecs } from "@/server/db/schema";
import { Repo } from "@/server/git/repo";
import { notesForTask } from "@/server/runs/steers";
import { noteRun } from "@/server/state/runs/store";
import type { Running } from "./context";
import { buildPrompt } from "./prompt";
import { createWorkspace, type Workspace } from "./workspace";

/** What a run's sessions work from: the workspace, the prompt, and the checks on the change. */
export type Prepared = {
  ws: Workspace;
  /** The task's files: the only ones the agent may change. */
  files: string[];
  checks: string[];
  prompt: { text: string; hash: string };
  promptFile: string;
  /** The repository's whole policy (the run's agent policy is a part of it). */
  fullPolicy: Policy;
  risk: "low" | "medium" | "high";
};

const gitDirOf = (r: RunDir) => `${r.root}.git`;

/**
 * Sets a run up: the workspace at the target branch's tip, the checks the task and its request
 * name, the prompt (with what operators told earlier runs of the task), written in the run
 * folder and kept with the run's artifacts. A reason instead when the branch has no commit.
 */
export async function prepare(
  r: Running,
  repo: { path: string; targetBranch: string },
  cliVersion: string,
): Promise<Prepared | { problem: string }> {
  const { ctx, task, policy, dir } = r;
  const base = await Repo.at(repo.path).findCommit(`refs/heads/${repo.targetBranch}`);
  if (!base) return { problem: `${repo.targetBranch} has no commit yet` };
  const files = task.neededFiles ?? [];
  const ws = await createWorkspace({
    repoPath: repo.path,
    base,
    paths: [...files, ...policy.context],
    run: dir,
    gitDir: gitDirOf(dir),
  });
  const fullPolicy = policyFor(ctx.config, task.repo);
  const spec = task.requestId
    ? (
        await ctx.db
          .select()
          .from(requestSpecs)
          .where(eq(requestSpecs.requestId, task.requestId))
          .limit(1)
      )[0]?.spec
    : null;
  const checks = checksForWork(fullPolicy, task.area ? [task.area] : [], [
    ...(task.acceptance ?? []),
    ...(spec?.checks ?? []),
  ]);
  const notes = (await notesForTask(ctx.db, task.id)).map((n) => `- ${n.reason}`).join("\n");
  const prompt = await buildPrompt(ctx.db, task, {
    base,
    checks,
    context: policy.context,
    ...(notes ? { note: notes } : {}),
  });
  const promptFile = path.join(dir.root, "prompt.md");
  fs.writeFileSync(promptFile, prompt.text);
  const artifactDir = path.join(ctx.dataDir, "runs", String(r.run.id));
  fs.mkdirSync(artifactDir, { recursive: true });
  fs.writeFileSync(path.join(artifactDir, "prompt.md"), prompt.text);
  await noteRun(ctx.db, r.run.id, {
    baseCommit: base,
    promptHash: prompt.hash,
    promptPath: path.join(artifactDir, "prompt.md"),
    cliVersion,
  });
  return { ws, files, checks, prompt, promptFile, fullPolicy, risk: spec?.risk ?? "low" };
}
