import { createHash } from "node:crypto";
import { desc, eq } from "drizzle-orm";
import { can } from "@/server/auth/permissions";
import type { LoadedConfig } from "@/server/config/load";
import { policyFor } from "@/server/config/policy";
import type { Db, DbLike } from "@/server/db/client";
import { planApprovals, users } from "@/server/db/schema";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "@/server/errors";
import { appendEvent } from "@/server/events/log";
import { Repo } from "@/server/git/repo";
import type { User } from "@/server/users/service";
import { PLAN_MAX_BYTES, type PlanMeta, parsePlan, planBytesProblem } from "./parse";

/**
 * The plan gate (docs/worker-factory.md, "Plan gate"): a repository whose policy names a plan
 * file dispatches no task while that file, read from the target branch's tip, misses a required
 * section, has no line its approval pattern matches, names a command (or an unknown check) in
 * its validation policy, or has a text no admin approved. The approved text is kept
 * (plan_approvals), so a change to the plan voids the approval until an admin approves the new
 * text, shown as a diff against the old.
 */

/**
 * `open`: tasks dispatch. `problem`: the file is unreadable or wrong (missing, too large, not
 * UTF-8, a section missing or repeated, no approval line…). `unapproved`: no admin approved any
 * text of it yet. `changed`: an admin approved another text.
 */
export type PlanState = "open" | "problem" | "unapproved" | "changed";

export type PlanApproval = {
  id: number;
  textHash: string;
  commitId: string;
  approvedBy: number;
  approvedByEmail: string | null;
  at: number;
};

export type PlanStatus = {
  repo: string;
  file: string;
  branch: string;
  /** The tip the plan was read from; null when the branch has none. */
  commit: string | null;
  state: PlanState;
  /** Why the gate is shut, in the words every page and the CLI show; null when open. */
  reason: string | null;
  /** What to do about it. */
  fix: string | null;
  problems: { message: string; fix: string }[];
  meta: PlanMeta | null;
  /** The sha256 of the current text: what an admin approves. */
  textHash: string | null;
  approved: PlanApproval | null;
};

/** The reason a task of a gated repository records: why, then what to do. */
export function gateReason(status: PlanStatus): string | null {
  return status.reason === null ? null : `${status.reason}; ${status.fix ?? ""}`.replace(/; $/, "");
}

type Read = {
  commit: string | null;
  text: string | null;
  textHash: string | null;
  meta: PlanMeta | null;
  problems: { message: string; fix: string }[];
};

/** Parsed plans by repository folder, tip and file: a tip's plan never changes. */
const cache = new Map<string, Read>();
const CACHE_MAX = 128;

/** Reads and parses the plan at the tip of the repository's target branch. */
async function readPlan(config: LoadedConfig, repoName: string, file: string): Promise<Read> {
  const repo = config.repositories.find((r) => r.name === repoName);
  if (!repo) throw new NotFoundError(`unknown repository '${repoName}'`);
  const policy = policyFor(config, repoName);
  const git = Repo.at(repo.path);
  const branch = repo.targetBranch;
  const commit = await git.findCommit(`refs/heads/${branch}`).catch(() => null);
  const fail = (message: string, fix: string): Read => ({
    commit,
    text: null,
    textHash: null,
    meta: null,
    problems: [{ message, fix }],
  });
  if (!commit)
    return fail(
      `cannot read ${file}: branch '${branch}' of repository '${repoName}' has no commit`,
      repo.remote ? "start the worker so it fetches the repository" : `create branch '${branch}'`,
    );
  const key = `${repo.path}\0${commit}\0${file}\0${JSON.stringify(policy.checks)}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const entry = await git.fileAt(commit, file).catch(() => null);
  let read: Read;
  if (!entry)
    read = fail(
      `${file} is not on ${branch} (${commit.slice(0, 7)})`,
      `add ${file} with a '## Plan Metadata' section and land the change`,
    );
  else {
    const tooBig = planBytesProblem(file, entry.size, null);
    const bytes = tooBig ? null : await git.readBlob(entry.oid);
    const problem = tooBig ?? (bytes ? planBytesProblem(file, bytes.length, bytes) : null);
    if (problem || !bytes) read = fail(problem?.message ?? "", problem?.fix ?? "");
    else {
      const text = bytes.toString("utf8");
      const parsed = parsePlan(file, text, policy, repoName);
      read = {
        commit,
        text,
        textHash: createHash("sha256").update(bytes).digest("hex"),
        meta: parsed.meta,
        problems: parsed.problems,
      };
    }
  }
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
  cache.set(key, read);
  return read;
}

/** The newest approval of a repository's plan, or null. */
async function lastApproval(db: DbLike, repo: string): Promise<PlanApproval | null> {
  const [row] = await db
    .select({
      id: planApprovals.id,
      textHash: planApprovals.textHash,
      commitId: planApprovals.commitId,
      approvedBy: planApprovals.approvedBy,
      approvedByEmail: users.email,
      at: planApprovals.createdAt,
    })
    .from(planApprovals)
    .leftJoin(users, eq(users.id, planApprovals.approvedBy))
    .where(eq(planApprovals.repo, repo))
    .orderBy(desc(planApprovals.id))
    .limit(1);
  return row ?? null;
}

const approveHint = (repo: string) =>
  `an admin reads it on the Plans page (/plans) or with \`hyperion plan ${repo}\` and approves it (\`hyperion plan approve ${repo}\`)`;

/** The plan gate of one repository; null when its policy names no plan file. */
export async function planStatus(
  db: DbLike,
  config: LoadedConfig,
  repoName: string,
): Promise<PlanStatus | null> {
  const file = policyFor(config, repoName).plan;
  if (!file) return null;
  const repo = config.repositories.find((r) => r.name === repoName);
  if (!repo) return null;
  const read = await readPlan(config, repoName, file);
  const approved = await lastApproval(db, repoName);
  const base = {
    repo: repoName,
    file,
    branch: repo.targetBranch,
    commit: read.commit,
    problems: read.problems,
    meta: read.meta,
    textHash: read.textHash,
    approved,
  };
  const first = read.problems[0];
  if (first) return { ...base, state: "problem", reason: first.message, fix: first.fix };
  if (!approved)
    return {
      ...base,
      state: "unapproved",
      reason: `${file} has not been approved by an admin yet`,
      fix: approveHint(repoName),
    };
  if (approved.textHash !== read.textHash)
    return {
      ...base,
      state: "changed",
      reason: `${file} changed since an admin approved it (at ${approved.commitId.slice(0, 7)}); its approval is void`,
      fix: approveHint(repoName).replace("reads it", "reads the diff"),
    };
  return { ...base, state: "open", reason: null, fix: null };
}

/** Every repository whose policy names a plan file, with its gate. */
export async function planStatuses(db: DbLike, config: LoadedConfig): Promise<PlanStatus[]> {
  const out: PlanStatus[] = [];
  for (const r of config.repositories) {
    const s = await planStatus(db, config, r.name);
    if (s) out.push(s);
  }
  return out;
}

/**
 * For the dispatcher: the reason each of `repos` is shut by its plan (absent when open or when
 * it has no plan). A plan that cannot be read shuts the gate, with the reason.
 */
export async function planGateReasons(
  db: DbLike,
  config: LoadedConfig,
  repos: readonly string[],
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const repo of new Set(repos)) {
    if (!policyFor(config, repo).plan) continue;
    const status = await planStatus(db, config, repo).catch((err: unknown): PlanStatus | null => ({
      repo,
      file: policyFor(config, repo).plan ?? "",
      branch: "",
      commit: null,
      state: "problem",
      reason: `cannot read the plan of '${repo}': ${err instanceof Error ? err.message : String(err)}`,
      fix: `see \`hyperion plan ${repo}\``,
      problems: [],
      meta: null,
      textHash: null,
      approved: null,
    }));
    const reason = status ? gateReason(status) : null;
    if (reason) out.set(repo, reason);
  }
  return out;
}

/** A plan's current text and the diff from the approved one, for the page and the CLI. */
export async function planDetail(
  db: DbLike,
  config: LoadedConfig,
  repoName: string,
): Promise<PlanStatus & { text: string | null; diff: string | null }> {
  const status = await planStatus(db, config, repoName);
  if (!status) throw new NotFoundError(`repository '${repoName}' has no plan file in its policy`);
  const repo = config.repositories.find((r) => r.name === repoName);
  const read = await readPlan(config, repoName, status.file);
  let diff: string | null = null;
  if (repo && status.approved && status.commit && status.approved.textHash !== status.textHash) {
    diff = await Repo.at(repo.path)
      .diffFile(status.approved.commitId, status.commit, status.file)
      .catch(() => null);
    if (diff === null) {
      // The approved commit is gone (a force push): compare with the stored text instead.
      const [row] = await db
        .select({ text: planApprovals.text })
        .from(planApprovals)
        .where(eq(planApprovals.id, status.approved.id))
        .limit(1);
      diff = wholeTextDiff(status.file, row?.text ?? "", read.text ?? "");
    }
  }
  // Never approved: the whole text is new, and shown as such.
  if (status.state === "unapproved" && read.text !== null)
    diff = wholeTextDiff(status.file, "", read.text);
  return { ...status, text: read.text, diff };
}

/** A diff that removes every old line and adds every new one: when git has no old commit. */
function wholeTextDiff(file: string, before: string, after: string): string {
  const lines = (t: string) => (t === "" ? [] : t.replace(/\n$/, "").split("\n"));
  const a = lines(before);
  const b = lines(after);
  return [
    `diff --git a/${file} b/${file}`,
    `--- a/${file}`,
    `+++ b/${file}`,
    `@@ -${a.length ? 1 : 0},${a.length} +${b.length ? 1 : 0},${b.length} @@`,
    ...a.map((l) => `-${l}`),
    ...b.map((l) => `+${l}`),
    "",
  ].join("\n");
}

/**
 * An admin approves the plan's current text. `textHash` is the hash the admin was shown (the
 * page and `hyperion plan` print it): a plan that changed since is refused. A plan with a
 * problem cannot be approved (nothing written). Approving the approved text again is a no-op.
 */
export async function approvePlan(
  db: Db,
  config: LoadedConfig,
  repoName: string,
  user: User,
  textHash?: string,
): Promise<PlanStatus> {
  if (!can(user.role, "plan.approve"))
    throw new ForbiddenError(
      `${user.email} is a ${user.role}; only an admin approves a repository's plan`,
    );
  const detail = await planDetail(db, config, repoName);
  if (detail.state === "problem")
    throw new ValidationError([
      {
        path: "plan",
        message: `${detail.reason ?? "the plan has a problem"}; ${detail.fix ?? ""}`,
      },
    ]);
  const text = detail.text;
  const commit = detail.commit;
  const hash = detail.textHash;
  const file = detail.file;
  if (!hash || text === null || !commit)
    throw new ValidationError([{ path: "plan", message: `${file} cannot be read` }]);
  if (textHash !== undefined && textHash !== hash)
    throw new ConflictError(
      `${file} changed since you read it (you saw ${textHash.slice(0, 12)}, it is now ${hash.slice(0, 12)}): read it again and approve what is there`,
      [{ path: "textHash", message: "is not the plan's current text" }],
    );
  if (detail.state === "open") return detail;
  const now = Date.now();
  await db.transaction(async (tx) => {
    const [row] = await tx
      .insert(planApprovals)
      .values({
        repo: repoName,
        path: file,
        textHash: hash,
        text,
        commitId: commit,
        approvedBy: user.id,
        createdAt: now,
      })
      .returning({ id: planApprovals.id });
    await appendEvent(tx, {
      topic: "queue",
      type: "plan.approved",
      entityId: row?.id,
      payload: {
        repo: repoName,
        file,
        textHash: hash,
        commit,
        by: user.email,
        previous: detail.approved?.textHash ?? null,
      },
    });
  });
  return (await planStatus(db, config, repoName)) as PlanStatus;
}

export { PLAN_MAX_BYTES };
