import os from "node:os";
import { and, asc, desc, eq, inArray, isNotNull, max, ne } from "drizzle-orm";
import { type CheckResult, runChecks } from "@/server/checks/checks";
import type { LoadedConfig } from "@/server/config/load";
import type { Db, DbLike } from "@/server/db/client";
import { changeRequests, queueEntries, requests, tasks, verifications } from "@/server/db/schema";
import { NotFoundError, ValidationError } from "@/server/errors";
import { readRefFs } from "@/server/git/refs-fs";
import { Repo } from "@/server/git/repo";
import { log } from "@/server/log";
import { policyFor } from "@/server/planner/plan";
import { changeRequestOfMessage } from "@/server/queue/commit";
import { rollbackEntry } from "@/server/queue/rollback";
import { pendingStates } from "@/server/queue/states";
import { type ChangeRow, type Entry, getChange } from "@/server/queue/store";
import { moveRequest } from "@/server/requests/store";
import { moveTask } from "@/server/tasks/store";
import { ownerAlive } from "@/server/workers/heartbeat";
import { bisect } from "./bisect";
import {
  createVerification,
  moveVerification,
  recordStep,
  VerificationMoveConflict,
  type VerificationRow,
  verificationOwner,
} from "./store";

/** A target branch of a repository whose policy has `postMerge`. */
export type Target = { repo: string; branch: string };

export type VerifierOptions = {
  /** Who runs it: `worker-…/verify` for the worker, `cli:<host>:<pid>` for the CLI. */
  owner: string;
  /** For each check run, unless the check sets its own (HYPERION_CHECK_TIMEOUT_MS). */
  timeoutMs: number;
  /** Asked before each check run: a verifier that stops leaves its verification running, for the next verifier to restart. */
  shouldStop?: () => boolean;
};

export type VerifyOutcome =
  | { kind: "done"; verification: VerificationRow }
  /** Another live verifier runs this target's verification now. */
  | { kind: "busy"; verification: VerificationRow; owner: string | null }
  /** Stopped between check runs (the worker stopping), or taken over by another verifier. */
  | { kind: "stopped"; verification: VerificationRow; reason: string }
  | { kind: "skipped"; target: Target; reason: string };

/** States of an entry whose landing is still to come (or waits for a reviewer). */
const UNLANDED = [...pendingStates, "awaiting_approval"] as const;

/** The owner a CLI run records: the host and process, which a later verifier can test. */
export function cliVerifier(): string {
  return `cli:${os.hostname()}:${process.pid}`;
}

/**
 * Whether the verifier behind an owner is alive: a worker by its heartbeat (ownerAlive), a CLI
 * run by its process on this host (one on another host is taken for alive: it cannot be asked).
 */
export function verifierAlive(db: Db, owner: string): boolean {
  const cli = /^cli:(.*):(\d+)$/.exec(owner);
  if (!cli) return ownerAlive(db, owner);
  if (cli[1] !== os.hostname()) return true;
  try {
    process.kill(Number(cli[2]), 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

const gitDirs = new Map<string, string>();
async function gitDirOf(repoPath: string): Promise<string> {
  let dir = gitDirs.get(repoPath);
  if (!dir) {
    dir = await Repo.at(repoPath).absoluteGitDir();
    gitDirs.set(repoPath, dir);
  }
  return dir;
}

async function firstParentOf(gitDir: string, commit: string): Promise<string | null> {
  const text = await Repo.ofGitDir(gitDir)
    .readCommit(commit)
    .catch(() => "");
  return /^parent ([0-9a-f]{40})$/m.exec(text)?.[1] ?? null;
}

const isAncestor = (gitDir: string, older: string, newer: string) =>
  Repo.ofGitDir(gitDir).isAncestor(older, newer);

/** The first-parent commits after `good` up to `head`, oldest first: what landed in between. */
const landedBetween = (gitDir: string, good: string, head: string) =>
  Repo.ofGitDir(gitDir).firstParentsBetween(good, head);

/** Every repository whose policy has `postMerge`, with its branches that changes landed on. */
export function verifiableTargets(db: DbLike, config: LoadedConfig, repo?: string): Target[] {
  const out: Target[] = [];
  for (const r of config.repositories) {
    if (!policyFor(config, r.name).postMerge || (repo && r.name !== repo)) continue;
    const branches = new Set([r.targetBranch]);
    for (const row of db
      .selectDistinct({ branch: queueEntries.targetBranch })
      .from(queueEntries)
      .where(and(eq(queueEntries.repo, r.name), eq(queueEntries.state, "merged")))
      .all())
      branches.add(row.branch);
    for (const branch of branches) out.push({ repo: r.name, branch });
  }
  return out;
}

const ofTarget = (t: Target) =>
  and(eq(verifications.repo, t.repo), eq(verifications.targetBranch, t.branch));

function runningOf(db: DbLike, t: Target): VerificationRow | undefined {
  return db
    .select()
    .from(verifications)
    .where(and(ofTarget(t), eq(verifications.state, "running")))
    .orderBy(desc(verifications.id))
    .get();
}

function latestOf(db: DbLike, t: Target): VerificationRow | undefined {
  return db.select().from(verifications).where(ofTarget(t)).orderBy(desc(verifications.id)).get();
}

const lastId = (db: DbLike, t: Target) =>
  db
    .select({ id: max(verifications.id) })
    .from(verifications)
    .where(ofTarget(t))
    .get()?.id ?? 0;

/** The oldest landing on the target branch (a real one, not a dry run). */
function firstLanding(db: DbLike, t: Target) {
  return db
    .select({ id: queueEntries.id, mergedCommit: queueEntries.mergedCommit })
    .from(queueEntries)
    .innerJoin(changeRequests, eq(changeRequests.id, queueEntries.changeRequestId))
    .where(
      and(
        eq(queueEntries.repo, t.repo),
        eq(queueEntries.targetBranch, t.branch),
        inArray(queueEntries.state, ["merged", "rolled_back"]),
        isNotNull(queueEntries.mergedCommit),
        eq(changeRequests.dryRun, false),
      ),
    )
    .orderBy(asc(queueEntries.id))
    .get();
}

/**
 * The good end of the next verification: the newest commit known to pass that is still in the
 * branch's history — a passed or flaky verification's tip, or the parent of a culprit bisection
 * found (every commit before it passed). On the first run, the commit before the first landing.
 */
export async function lastGood(
  db: DbLike,
  gitDir: string,
  t: Target,
  head: string,
): Promise<string | null> {
  const known = db
    .select()
    .from(verifications)
    .where(and(ofTarget(t), inArray(verifications.state, ["passed", "flaky", "culprit"])))
    .orderBy(desc(verifications.id))
    .limit(20)
    .all();
  for (const v of known) {
    const good =
      v.state === "culprit"
        ? v.culpritCommit
          ? await firstParentOf(gitDir, v.culpritCommit)
          : null
        : v.headCommit;
    if (good && (await isAncestor(gitDir, good, head))) return good;
  }
  const first = firstLanding(db, t);
  if (first?.mergedCommit && (await isAncestor(gitDir, first.mergedCommit, head)))
    return firstParentOf(gitDir, first.mergedCommit);
  return null;
}

/** A revert a verification queued that has not landed yet: the next one waits for it. */
function revertInFlight(db: DbLike, t: Target): Entry | undefined {
  return db
    .select({ entry: queueEntries })
    .from(verifications)
    .innerJoin(queueEntries, eq(queueEntries.id, verifications.revertEntryId))
    .where(and(ofTarget(t), inArray(queueEntries.state, [...UNLANDED])))
    .get()?.entry;
}

/**
 * Why a target needs a verification now, or null: its verification was left running by a dead
 * verifier (restart it), or its tip moved since the last one (and something has landed on it),
 * unless a revert queued by an earlier verification has yet to land.
 */
export async function dueReason(
  db: Db,
  config: LoadedConfig,
  t: Target,
  owner: string,
): Promise<string | null> {
  const repo = config.repositories.find((r) => r.name === t.repo);
  if (!repo || !policyFor(config, repo.name).postMerge) return null;
  const running = runningOf(db, t);
  if (running) {
    const holder = verificationOwner(db, running.id);
    if (holder === owner) return null;
    return holder && verifierAlive(db, holder)
      ? null
      : `verification ${running.id} was left running by ${holder ?? "an unknown verifier"}`;
  }
  const head = readRefFs(await gitDirOf(repo.path), `refs/heads/${t.branch}`);
  if (!head) return null;
  const last = latestOf(db, t);
  if (last?.headCommit === head) return null;
  if (!last && !firstLanding(db, t)) return null;
  const revert = revertInFlight(db, t);
  if (revert) return null;
  return `${t.branch} moved to ${head.slice(0, 12)}`;
}

/**
 * One verifier pass: each target that is due (dueReason) is verified, one after the other.
 * The worker runs this on an interval, off the queue threads.
 */
export async function verifyDue(
  db: Db,
  config: LoadedConfig,
  opts: VerifierOptions,
): Promise<VerifyOutcome[]> {
  const out: VerifyOutcome[] = [];
  for (const t of verifiableTargets(db, config)) {
    if (opts.shouldStop?.()) break;
    const why = await dueReason(db, config, t, opts.owner);
    if (!why) continue;
    log.info({ repo: t.repo, branch: t.branch, why }, "post-merge verification due");
    out.push(await verifyTarget(db, config, t, opts));
  }
  return out;
}

class Stopped extends Error {}

/**
 * Runs one verification of a target branch now (or restarts the one a dead verifier left
 * running): the policy's postMerge checks on the tip, confined as the queue runs checks; on a
 * failure, re-runs of the same commit (a pass on any is flaky); a failure that reproduces is
 * bisected over the first-parent commits since the last good one, and the first bad commit's
 * change is reverted through the merge queue and its task reopened with the failure output.
 * Only one verification per target runs at a time: a live one elsewhere answers `busy`.
 */
export async function verifyTarget(
  db: Db,
  config: LoadedConfig,
  t: Target,
  opts: VerifierOptions,
): Promise<VerifyOutcome> {
  const repo = config.repositories.find((r) => r.name === t.repo);
  if (!repo)
    return { kind: "skipped", target: t, reason: `repository '${t.repo}' is not configured` };
  if (!policyFor(config, repo.name).postMerge)
    return {
      kind: "skipped",
      target: t,
      reason: `the policy of '${t.repo}' has no postMerge checks`,
    };
  const gitDir = await gitDirOf(repo.path);
  let row: VerificationRow | null = null;
  const running = runningOf(db, t);
  if (running) {
    const holder = verificationOwner(db, running.id);
    if (holder !== opts.owner && holder && verifierAlive(db, holder))
      return { kind: "busy", verification: running, owner: holder };
    const reason = `restarted: its verifier ${holder ?? "(unknown)"} stopped before it finished`;
    try {
      row = db.transaction((tx) =>
        moveVerification(tx, {
          id: running.id,
          from: "running",
          to: "running",
          owner: opts.owner,
          newOwner: opts.owner,
          takeOverFrom: holder,
          note: { reason },
        }),
      );
    } catch (err) {
      if (!(err instanceof VerificationMoveConflict)) throw err;
      const now = runningOf(db, t);
      return now
        ? { kind: "busy", verification: now, owner: verificationOwner(db, now.id) }
        : { kind: "skipped", target: t, reason: "another verifier restarted it first" };
    }
    log.warn({ verification: row.id, repo: t.repo, branch: t.branch }, reason);
  } else {
    const head = readRefFs(gitDir, `refs/heads/${t.branch}`);
    if (!head) return { kind: "skipped", target: t, reason: `${t.branch} has no commits` };
    const seen = lastId(db, t);
    const good = await lastGood(db, gitDir, t, head);
    row = db.transaction((tx) => {
      // Another verifier started (or finished) one meanwhile: ours would repeat or race it.
      if (runningOf(tx, t) || lastId(tx, t) !== seen) return null;
      return createVerification(tx, {
        repo: t.repo,
        targetBranch: t.branch,
        goodCommit: good,
        headCommit: head,
        owner: opts.owner,
      });
    });
    if (!row) {
      const now = runningOf(db, t);
      return now
        ? { kind: "busy", verification: now, owner: verificationOwner(db, now.id) }
        : { kind: "skipped", target: t, reason: "another verification finished meanwhile" };
    }
  }
  return carryOut(db, config, { gitDir, path: repo.path }, row, opts);
}

const failureText = (r: CheckResult) =>
  r.ok ? "" : `${r.reason}${r.outputTail ? `\n${r.outputTail}` : ""}`;
const short = (sha: string | null | undefined) => (sha ? sha.slice(0, 12) : "-");

async function carryOut(
  db: Db,
  config: LoadedConfig,
  repo: { gitDir: string; path: string },
  row: VerificationRow,
  opts: VerifierOptions,
): Promise<VerifyOutcome> {
  const policy = policyFor(config, row.repo);
  const postMerge = policy.postMerge;
  const id = row.id;
  const where = { verification: id, repo: row.repo, branch: row.targetBranch };
  const finish = (
    to: "passed" | "flaky" | "culprit" | "failed" | "error",
    reason: string,
    set: Parameters<typeof moveVerification>[1]["set"] = {},
    within?: (tx: DbLike, moved: VerificationRow) => void,
  ): VerificationRow => {
    const moved = db.transaction((tx) => {
      const v = moveVerification(tx, {
        id,
        from: "running",
        to,
        owner: opts.owner,
        set,
        note: { reason },
      });
      within?.(tx, v);
      return v;
    });
    tell(to, reason, moved);
    return moved;
  };
  const tell = (to: string, reason: string, v: VerificationRow) => {
    const fields = {
      ...where,
      state: to,
      head: v.headCommit,
      ...(v.culpritCommit ? { culpritCommit: v.culpritCommit } : {}),
      ...(v.culpritEntryId ? { culpritEntry: v.culpritEntryId } : {}),
      ...(v.revertEntryId ? { revertEntry: v.revertEntryId } : {}),
    };
    if (to === "passed") log.info(fields, reason);
    else if (to === "error") log.error(fields, reason);
    else log.warn(fields, reason);
  };
  if (!postMerge)
    return {
      kind: "done",
      verification: finish("error", `the policy of '${row.repo}' has no postMerge checks now`),
    };

  const probe = async (commit: string, note: string): Promise<CheckResult> => {
    if (opts.shouldStop?.()) throw new Stopped("the verifier is stopping");
    const result = await runChecks({
      gitDir: repo.gitDir,
      commit,
      policy,
      checks: postMerge.checks,
      timeoutMs: opts.timeoutMs,
    });
    db.transaction((tx) =>
      recordStep(tx, { id, owner: opts.owner, step: { commit, ok: result.ok, note } }),
    );
    return result;
  };

  try {
    const head = row.headCommit;
    const names = postMerge.checks.join(", ");
    const first = await probe(head, "the tip");
    if (first.ok)
      return {
        kind: "done",
        verification: finish("passed", `post-merge checks (${names}) passed on ${short(head)}`),
      };
    for (let i = 1; i <= postMerge.reruns; i++) {
      const again = await probe(head, `re-run ${i} of the tip`);
      if (again.ok)
        return {
          kind: "done",
          verification: finish(
            "flaky",
            `post-merge checks (${names}) failed on ${short(head)}, then passed on re-run ${i} of the same commit: flaky, nobody is blamed (${first.ok ? "" : first.reason})`,
            { output: failureText(first) },
          ),
        };
    }
    const failedOutput = failureText(first);
    if (!row.goodCommit)
      return {
        kind: "done",
        verification: finish(
          "failed",
          `post-merge checks (${names}) fail on ${short(head)} on every run, and there is no earlier green commit to bisect from: fix the branch, then verify again`,
          { output: failedOutput },
        ),
      };

    const commits = await landedBetween(repo.gitDir, row.goodCommit, head);
    const hidden = await revertWindows(db, row.repo, commits);
    const candidates = commits.filter((_, i) => !hidden.skip.has(i));
    if (candidates.length === 0 || candidates[candidates.length - 1] !== head) {
      const why =
        commits.length === 0
          ? `the tip ${short(head)} is the last green commit, and its checks fail now: no landing is to blame (has the check or its environment changed?)`
          : `the tip ${short(head)} still holds change ${hidden.pendingAtHead ?? "?"}, whose revert has not landed: verifying again once it has`;
      return {
        kind: "done",
        verification: finish("failed", `post-merge checks (${names}) fail: ${why}`, {
          output: failedOutput,
        }),
      };
    }

    const failures = new Map<string, CheckResult>([[head, first]]);
    const at = await bisect(candidates.length, async (i, left) => {
      const commit = candidates[i] as string;
      const result = await probe(commit, `bisect: ${left} commit${left === 1 ? "" : "s"} left`);
      if (!result.ok) failures.set(commit, result);
      return result.ok;
    });
    const culprit = candidates[at] as string;
    if (at === 0) {
      // Everything since the good end fails: make sure the good end still passes, or the
      // failure is the environment's (or the check's), not the first landing's.
      const good = await probe(row.goodCommit, "the good end, checked again");
      if (!good.ok)
        return {
          kind: "done",
          verification: finish(
            "failed",
            `post-merge checks (${names}) fail at the last green commit ${short(row.goodCommit)} too: no landing since is to blame (has the check or its environment changed?)`,
            { output: failureText(good) },
          ),
        };
    }
    const output = failureText(failures.get(culprit) ?? first);
    if (hidden.revertCommits.has(culprit))
      return {
        kind: "done",
        verification: finish(
          "failed",
          `post-merge checks (${names}) fail from ${short(culprit)} on, the revert of an earlier culprit: the failure entered while that culprit was on the branch and hides behind it (the landings between them are suspects); look at them, then verify again`,
          { culpritCommit: culprit, output },
        ),
      };

    const entry = await entryForCommit(db, repo.gitDir, row.repo, culprit);
    const base = `post-merge checks (${names}) fail from ${short(culprit)} on (bisection over ${candidates.length} commit${candidates.length === 1 ? "" : "s"})`;
    if (!entry)
      return {
        kind: "done",
        verification: finish(
          "culprit",
          `${base}; it is not a landing of the merge queue: revert it by hand`,
          { culpritCommit: culprit, output },
        ),
      };
    const change = getChange(db, entry.changeRequestId) as ChangeRow;
    const blamed = { culpritCommit: culprit, culpritEntryId: entry.id, output };
    const existing = existingRevert(db, change.id);
    if (existing)
      return {
        kind: "done",
        verification: finish(
          "culprit",
          `${base}: change #${change.id} (Q${entry.id}); its revert is already Q${existing.id} (${existing.state})`,
          { ...blamed, revertEntryId: existing.id },
          (tx, v) => reopenTask(tx, change, v, `${base}: change #${change.id} (Q${entry.id})`),
        ),
      };
    if (entry.state !== "merged")
      return {
        kind: "done",
        verification: finish(
          "culprit",
          `${base}: change #${change.id} (Q${entry.id}), which is ${entry.state.replace("_", " ")}; nothing to revert`,
          blamed,
        ),
      };
    let done: VerificationRow | null = null;
    try {
      await rollbackEntry(db, config, entry.id, {
        within: (tx, [revert]) => {
          const reason = `${base}: change #${change.id} (Q${entry.id}) is reverted by Q${revert?.entryId}`;
          done = moveVerification(tx, {
            id,
            from: "running",
            to: "culprit",
            owner: opts.owner,
            set: { ...blamed, revertEntryId: revert?.entryId ?? null },
            note: { reason },
          });
          reopenTask(tx, change, done, reason);
        },
      });
    } catch (err) {
      if (!(err instanceof ValidationError || err instanceof NotFoundError)) throw err;
      return {
        kind: "done",
        verification: finish(
          "culprit",
          `${base}: change #${change.id} (Q${entry.id}), whose revert could not be queued: ${err.message}`,
          blamed,
          (tx, v) => reopenTask(tx, change, v, `${base}: change #${change.id} (Q${entry.id})`),
        ),
      };
    }
    const moved = done as unknown as VerificationRow;
    tell("culprit", `${base}: change #${change.id} (Q${entry.id}) reverted`, moved);
    return { kind: "done", verification: moved };
  } catch (err) {
    if (err instanceof Stopped || err instanceof VerificationMoveConflict) {
      log.info(
        { ...where, reason: err.message },
        "post-merge verification left to the next verifier",
      );
      return { kind: "stopped", verification: row, reason: err.message };
    }
    const message = (err as Error).message;
    try {
      return {
        kind: "done",
        verification: finish("error", `post-merge verification could not run: ${message}`, {
          output: message,
        }),
      };
    } catch (inner) {
      if (inner instanceof VerificationMoveConflict)
        return { kind: "stopped", verification: row, reason: inner.message };
      throw inner;
    }
  }
}

/**
 * The landings in `commits` whose changes have been reverted on the branch since: from each to
 * its revert, every commit holds a failure already dealt with, and cannot tell another one apart
 * (as `git bisect skip`). A revert still in the queue hides everything after its original.
 */
async function revertWindows(
  db: Db,
  repo: string,
  commits: string[],
): Promise<{ skip: Set<number>; revertCommits: Set<string>; pendingAtHead: string | null }> {
  const index = new Map(commits.map((c, i) => [c, i]));
  const landed: { id: number; changeRequestId: number; mergedCommit: string | null }[] = [];
  for (let i = 0; i < commits.length; i += 500) {
    const chunk = commits.slice(i, i + 500);
    landed.push(
      ...db
        .select({
          id: queueEntries.id,
          changeRequestId: queueEntries.changeRequestId,
          mergedCommit: queueEntries.mergedCommit,
        })
        .from(queueEntries)
        .where(and(eq(queueEntries.repo, repo), inArray(queueEntries.mergedCommit, chunk)))
        .all(),
    );
  }
  const skip = new Set<number>();
  const revertCommits = new Set<string>();
  let pendingAtHead: string | null = null;
  const byChange = new Map(landed.map((l) => [l.changeRequestId, l]));
  if (byChange.size === 0) return { skip, revertCommits, pendingAtHead };
  const reverts = db
    .select({
      revertOf: changeRequests.revertOf,
      state: queueEntries.state,
      mergedCommit: queueEntries.mergedCommit,
    })
    .from(changeRequests)
    .innerJoin(queueEntries, eq(queueEntries.changeRequestId, changeRequests.id))
    .where(inArray(changeRequests.revertOf, [...byChange.keys()]))
    .all();
  for (const r of reverts) {
    const original = byChange.get(r.revertOf ?? -1);
    const from = index.get(original?.mergedCommit ?? "");
    if (!original || from === undefined) continue;
    const landedAt = r.mergedCommit ? index.get(r.mergedCommit) : undefined;
    const until =
      (r.state === "merged" || r.state === "rolled_back") && landedAt !== undefined
        ? landedAt
        : UNLANDED.includes(r.state as (typeof UNLANDED)[number])
          ? commits.length
          : undefined;
    if (until === undefined) continue;
    for (let i = from; i < until; i++) skip.add(i);
    if (until < commits.length) revertCommits.add(commits[until] as string);
    else pendingAtHead = `#${original.changeRequestId} (Q${original.id})`;
  }
  return { skip, revertCommits, pendingAtHead };
}

/**
 * The queue entry that landed a commit: by its merged commit, else by the commit's
 * `Hyperion-Change-Request` trailer (server/queue/commit.ts).
 */
export async function entryForCommit(
  db: DbLike,
  gitDir: string,
  repo: string,
  commit: string,
): Promise<Entry | undefined> {
  const direct = db
    .select()
    .from(queueEntries)
    .where(and(eq(queueEntries.repo, repo), eq(queueEntries.mergedCommit, commit)))
    .get();
  if (direct) return direct;
  const text = await Repo.ofGitDir(gitDir)
    .readCommit(commit)
    .catch(() => "");
  const changeId = changeRequestOfMessage(text);
  if (changeId === null) return undefined;
  return db
    .select()
    .from(queueEntries)
    .where(and(eq(queueEntries.repo, repo), eq(queueEntries.changeRequestId, changeId)))
    .get();
}

/** A revert of the change already on its way or landed (as rollbackEntry counts them: not rejected). */
function existingRevert(db: DbLike, changeId: number): Entry | undefined {
  return db
    .select({ entry: queueEntries })
    .from(changeRequests)
    .innerJoin(queueEntries, eq(queueEntries.changeRequestId, changeRequests.id))
    .where(and(eq(changeRequests.revertOf, changeId), ne(queueEntries.state, "rejected")))
    .orderBy(desc(queueEntries.id))
    .get()?.entry;
}

/**
 * Sends the culprit's task back to the Orchestrator's queue (done → pending), to be dispatched
 * again to an agent whose prompt carries the failure (server/agents/prompt.ts); its request, if
 * done, is in progress again. Only a planned task whose latest change is the culprit: an ad-hoc
 * change has no agent to send it back to, and a task already re-done is left alone.
 */
function reopenTask(tx: DbLike, change: ChangeRow, v: VerificationRow, reason: string): void {
  const task = tx.select().from(tasks).where(eq(tasks.id, change.taskId)).get();
  if (task?.source !== "planner" || task.state !== "done") return;
  if (task.changeRequestId !== change.id) return;
  const why = `reopened: ${reason}`;
  moveTask(tx, {
    id: task.id,
    from: "done",
    to: "pending",
    set: { blockedReason: null },
    event: {
      reason: why,
      data: { verification: v.id, change: change.id, revertEntry: v.revertEntryId },
    },
  });
  if (!task.requestId) return;
  const request = tx
    .select({ status: requests.status })
    .from(requests)
    .where(eq(requests.id, task.requestId))
    .get();
  if (request?.status === "done")
    moveRequest(tx, { id: task.requestId, from: "done", to: "in_progress", reason: why });
}
