import type { LoadedConfig } from "@/server/config/load";
import { policyFor } from "@/server/config/policy";
import type { Db } from "@/server/db/client";
import { readRefFs } from "@/server/git/refs-fs";
import { log } from "@/server/log";
import {
  createVerification,
  moveVerification,
  VerificationMoveConflict,
  type VerificationRow,
  verificationOwner,
} from "../state/verify/store";
import { carryOut } from "./carry-out";
import type { VerifierOptions, VerifyOutcome } from "./carrying";
import {
  firstLanding,
  gitDirOf,
  lastGood,
  lastId,
  latestOf,
  revertInFlight,
  runningOf,
  type Target,
  verifiableTargets,
} from "./targets";
import { verifierAlive } from "./verifier";

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
  const running = await runningOf(db, t);
  if (running) {
    const holder = await verificationOwner(db, running.id);
    if (holder === owner) return null;
    return holder && (await verifierAlive(db, holder))
      ? null
      : `verification ${running.id} was left running by ${holder ?? "an unknown verifier"}`;
  }
  const head = readRefFs(await gitDirOf(repo.path), `refs/heads/${t.branch}`);
  if (!head) return null;
  const last = await latestOf(db, t);
  if (last?.headCommit === head) return null;
  if (!last && !(await firstLanding(db, t))) return null;
  const revert = await revertInFlight(db, t);
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
  for (const t of await verifiableTargets(db, config)) {
    if (opts.shouldStop?.()) break;
    const why = await dueReason(db, config, t, opts.owner);
    if (!why) continue;
    log.info({ repo: t.repo, branch: t.branch, why }, "post-merge verification due");
    out.push(await verifyTarget(db, config, t, opts));
  }
  return out;
}

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
  const running = await runningOf(db, t);
  const row = running ? await restart(db, t, running, opts) : await start(db, t, gitDir, opts);
  if ("kind" in row) return row;
  return carryOut(db, config, { gitDir, path: repo.path }, row, opts);
}

/** Another verifier holds the target's verification now, or none runs and one just ended. */
async function busyOrSkipped(db: Db, t: Target, otherwise: string): Promise<VerifyOutcome> {
  const now = await runningOf(db, t);
  return now
    ? { kind: "busy", verification: now, owner: await verificationOwner(db, now.id) }
    : { kind: "skipped", target: t, reason: otherwise };
}

/** Takes over the running verification its dead verifier left, unless that verifier lives. */
async function restart(
  db: Db,
  t: Target,
  running: VerificationRow,
  opts: VerifierOptions,
): Promise<VerificationRow | VerifyOutcome> {
  const holder = await verificationOwner(db, running.id);
  if (holder !== opts.owner && holder && (await verifierAlive(db, holder)))
    return { kind: "busy", verification: running, owner: holder };
  const reason = `restarted: its verifier ${holder ?? "(unknown)"} stopped before it finished`;
  let row: VerificationRow;
  try {
    row = await db.transaction(async (tx) =>
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
    return busyOrSkipped(db, t, "another verifier restarted it first");
  }
  log.warn({ verification: row.id, repo: t.repo, branch: t.branch }, reason);
  return row;
}

/** Starts a verification of the branch's tip, from the last good commit. */
async function start(
  db: Db,
  t: Target,
  gitDir: string,
  opts: VerifierOptions,
): Promise<VerificationRow | VerifyOutcome> {
  const head = readRefFs(gitDir, `refs/heads/${t.branch}`);
  if (!head) return { kind: "skipped", target: t, reason: `${t.branch} has no commits` };
  const seen = await lastId(db, t);
  const good = await lastGood(db, gitDir, t, head);
  const row = await db.transaction(async (tx) => {
    // Another verifier started (or finished) one meanwhile: ours would repeat or race it.
    if ((await runningOf(tx, t)) || (await lastId(tx, t)) !== seen) return null;
    return createVerification(tx, {
      repo: t.repo,
      targetBranch: t.branch,
      goodCommit: good,
      headCommit: head,
      owner: opts.owner,
    });
  });
  return row ?? (await busyOrSkipped(db, t, "another verification finished meanwhile"));
}
