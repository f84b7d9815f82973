import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import { type ChangeRequest, parseChangeRequestBatch, type Risk } from "@/schemas/change-request";
import { type FieldIssue, fieldIssues } from "@/schemas/issues";
import { quotePath } from "@/schemas/paths";
import { policyChecks, resolveCheck } from "@/server/checks/checks";
import { laneOf } from "@/server/config/areas";
import type { LoadedConfig } from "@/server/config/load";
import { pipelineFor, policyFor } from "@/server/config/policy";
import type { Db, Tx } from "@/server/db/client";
import { changeRequests, tasks } from "@/server/db/schema";
import { currentEnv } from "@/server/env.mjs";
import { ValidationError } from "@/server/errors";
import { patchTreeProblems } from "@/server/git/apply";
import { ObjectStore } from "@/server/git/objects";
import { type FilePatch, PatchParseError, parsePatch, patchPaths } from "@/server/git/patch";
import { readRefFs } from "@/server/git/refs-fs";
import { changeRisk, voidEarlierApprovals } from "@/server/queue/approval-gate";
import { createAdhocTask } from "@/server/state/tasks/store";
import { enqueue } from "../state/queue/store";

/**
 * HYPERION_MAX_PATCH_BYTES, the same for the CLI, the API and the agents: read at each call
 * (tests change it), parsed and bounded by server/env.mjs, DEFAULT_MAX_PATCH_BYTES when unset.
 */
export function maxPatchBytesFromEnv(): number {
  return currentEnv().HYPERION_MAX_PATCH_BYTES;
}

export type SubmitOptions = {
  maxPatchBytes?: number;
  maxAttempts?: number;
  revertOf?: number;
  /** The agent run that made the change (set by the worker only; never taken from input). */
  runId?: number;
  /** Runs inside the insert transaction; if it throws, nothing is submitted. */
  within?: (tx: Tx, submitted: Submitted[]) => Promise<void> | void;
};
export type Submitted = {
  id: number;
  entryId: number;
  taskId: string;
  repo: string;
  targetBranch: string;
  paths: string[];
};

type Checked = {
  cr: ChangeRequest;
  targetBranch: string;
  taskId: string;
  paths: string[];
  checks: string[];
  /** The risk stored: as filed, or high for a change to the plan file (changeRisk). */
  risk: Risk;
};

type Stores = Map<string, Promise<ObjectStore>>;

async function checkOne(
  cr: ChangeRequest,
  prefix: string,
  config: LoadedConfig,
  opts: SubmitOptions,
  stores: Stores,
): Promise<{ ok: Checked } | { issues: FieldIssue[] }> {
  const issues: FieldIssue[] = [];
  const at = (p: string, message: string) => issues.push({ path: `${prefix}${p}`, message });
  const repo = config.repositories.find((r) => r.name === cr.repo);
  if (!repo) {
    at(
      "repo",
      `unknown repository '${cr.repo}'; configured: ${config.repositories.map((r) => r.name).join(", ")}`,
    );
    return { issues };
  }
  const policy = policyFor(config, cr.repo);
  const checks: string[] = [];
  (cr.checks ?? []).forEach((ref, i) => {
    const name = resolveCheck(policy, ref);
    if (name) checks.push(name);
    else
      at(
        `checks[${i}]`,
        `'${ref.slice(0, 100)}' is not a check of repository '${repo.name}': only its policy defines checks (defined: ${[...policyChecks(policy).keys()].join(", ") || "none"})`,
      );
  });
  if (issues.length) return { issues };
  const limit = opts.maxPatchBytes ?? maxPatchBytesFromEnv();
  const size = Buffer.byteLength(cr.patch);
  if (size > limit) {
    at("patch", `is ${size} bytes; the limit is ${limit} bytes`);
    return { issues };
  }
  let files: FilePatch[];
  try {
    files = parsePatch(cr.patch);
  } catch (err) {
    if (!(err instanceof PatchParseError)) throw err;
    for (const problem of err.problems) at("patch", problem);
    return { issues };
  }
  const paths = patchPaths(files);
  const targetBranch = cr.targetBranch ?? repo.targetBranch;
  // A remote's mirror exists once the worker fetched it: until then nothing can be checked.
  if (repo.remote && !fs.existsSync(path.join(repo.path, "HEAD"))) {
    at(
      "repo",
      `repository '${repo.name}' has not been fetched from ${repo.remote} yet: start the worker (it fetches at start), and see \`hyperion status\` for why a fetch fails`,
    );
    return { issues };
  }
  if (!stores.has(repo.path)) stores.set(repo.path, ObjectStore.open(repo.path));
  const store = await (stores.get(repo.path) as Promise<ObjectStore>);
  {
    const tip = readRefFs(store.gitDir, `refs/heads/${targetBranch}`);
    if (cr.baseCommit && (await store.tryRead(cr.baseCommit))?.type !== "commit") {
      at("baseCommit", `unknown commit ${cr.baseCommit} in repository '${repo.name}'`);
    }
    const against = issues.length === 0 ? (cr.baseCommit ?? tip) : null;
    if (issues.length === 0) {
      const tree = against ? await store.commitTree(against) : null;
      for (const p of await patchTreeProblems(store, tree, files))
        at("patch", `path ${quotePath(p.path)} ${p.message}`);
    }
  }
  if (issues.length) return { issues };
  return {
    ok: {
      cr,
      targetBranch,
      taskId: cr.taskId ?? `adhoc-${randomUUID().slice(0, 8)}`,
      paths,
      checks: [...new Set(checks)],
      risk: changeRisk(policy, paths, cr.risk),
    },
  };
}

/**
 * Validates change requests (one or an array, all-or-nothing) and queues them: the change, its
 * entry, the paths it touches and the first log row, in one transaction.
 */
export async function submitChanges(
  db: Db,
  input: unknown,
  config: LoadedConfig,
  opts: SubmitOptions = {},
): Promise<Submitted[]> {
  const parsed = parseChangeRequestBatch(input);
  if (!parsed.success) throw new ValidationError(fieldIssues(parsed.error));
  const stores: Stores = new Map();
  let results: Awaited<ReturnType<typeof checkOne>>[];
  try {
    results = [];
    for (const [i, cr] of parsed.data.entries()) {
      results.push(await checkOne(cr, Array.isArray(input) ? `[${i}].` : "", config, opts, stores));
    }
  } finally {
    for (const s of stores.values()) (await s).close();
  }
  const issues = results.flatMap((r) => ("issues" in r ? r.issues : []));
  if (issues.length) throw new ValidationError(issues);
  const checked = results.flatMap((r) => ("ok" in r ? [r.ok] : []));
  const now = Date.now();
  return db.transaction(async (tx) => {
    const submitted: Submitted[] = [];
    for (const { cr, targetBranch, taskId, paths, checks, risk } of checked) {
      if (
        !(await tx.select({ id: tasks.id }).from(tasks).where(eq(tasks.id, taskId)).limit(1))[0]
      ) {
        await createAdhocTask(tx, {
          id: taskId,
          repo: cr.repo,
          title: cr.summary.split("\n")[0]?.slice(0, 200) ?? "",
          createdAt: now,
        });
      }
      const [change] = await tx
        .insert(changeRequests)
        .values({
          taskId,
          repo: cr.repo,
          targetBranch,
          baseCommit: cr.baseCommit ?? null,
          patch: cr.patch,
          summary: cr.summary,
          authorName: cr.author.name,
          authorEmail: cr.author.email,
          checks,
          risk,
          dryRun: cr.dryRun,
          revertOf: opts.revertOf ?? null,
          runId: opts.runId ?? null,
          createdAt: now,
        })
        .returning({ id: changeRequests.id });
      if (!change) throw new Error(`the change for ${taskId} was not stored`);
      // A revert undoes the approved change; it does not replace the patch that was approved.
      if (!opts.revertOf) await voidEarlierApprovals(tx, taskId, change.id);
      const pipeline = pipelineFor(config, cr.repo);
      const policy = policyFor(config, cr.repo);
      const entryId = await enqueue(
        tx,
        {
          changeRequestId: change.id,
          repo: cr.repo,
          targetBranch,
          maxAttempts: opts.maxAttempts ?? currentEnv().HYPERION_MAX_ATTEMPTS,
          paths,
          pipelined: pipeline !== undefined,
          lane: pipeline?.lanes === "area" ? laneOf(policy, paths) : "",
        },
        now,
      );
      submitted.push({ id: change.id, entryId, taskId, repo: cr.repo, targetBranch, paths });
    }
    await opts.within?.(tx, submitted);
    return submitted;
  });
}
