import type { QueuePipeline } from "@/schemas/policy";
import type { EntryError } from "@/schemas/queue";
import { runChecks } from "@/server/checks/checks";
import { recordCheckRuns } from "@/server/checks/record";
import { areaOf } from "@/server/config/areas";
import { policyFor } from "@/server/config/policy";
import { ApplyConflict } from "@/server/git/apply";
import { InvalidTreeEntryError, MissingObjectError, type ObjectStore } from "@/server/git/objects";
import { PatchParseError } from "@/server/git/patch";
import { RefLockedError, RefMovedError, readRefFs } from "@/server/git/refs-fs";
import { Repo } from "@/server/git/repo";
import { log } from "@/server/log";
import type { ChangeRow, Entry } from "../state/queue/store";
import { buildCandidate, type CandidateCache } from "./land";
import type { LandLock } from "./land-lock";
import type { Moves } from "./land-on-tip";
import { moveBranch } from "./move-branch";
import type { ProcessContext } from "./process";
import { markRolledBack } from "./rollback";

// The pipeline's steps (pipeline.ts runs them, pipeline-rounds.ts orders them): a stack of
// commits built on a base, the checks on a batch's top recorded against it, a flaky re-run, and
// the branch moved to the top of what passed.

/** One change of the lane: its entry, its change, its moves and its commit in the stack. */
export type Member = {
  entry: Entry;
  change: ChangeRow;
  moves: Moves;
  cache: CandidateCache;
  trailers: string[];
  commit: string | null;
};

/** A batch as built in a round: its members and the commit on top of it. */
export type Built = { group: Member[]; top: string };

/** What one round of the pipeline did, for the log and the tests. */
export type PipelineRound = { batches: number[]; landed: number; failedBatch: number | null };

export type PipelineReport = { rounds: PipelineRound[]; checkRuns: number };

/**
 * A change that could not be built: why, and the lane's changes it was stacked on (none: it
 * conflicts with the tip itself).
 */
export type Unbuilt = { dropped: Member; error: EntryError | "quarantine"; below: Member[] };

/**
 * Every member's commit, stacked batch on batch on the tip. A change that no longer applies on
 * its place in the stack is returned with why, to leave the lane.
 */
export async function stack(
  store: ObjectStore,
  groups: Member[][],
  tip: string | null,
): Promise<{ built: Built[] } | Unbuilt> {
  let base = tip;
  const built: Built[] = [];
  const below: Member[] = [];
  for (const group of groups) {
    for (const m of group) {
      try {
        const c = await buildCandidate(store, m.change, base, m.trailers, m.cache);
        m.commit = c.commit;
        base = c.commit;
        below.push(m);
      } catch (err) {
        if (err instanceof ApplyConflict)
          return {
            dropped: m,
            error: { kind: "conflict", message: err.message, paths: err.paths },
            below,
          };
        if (
          err instanceof PatchParseError ||
          err instanceof MissingObjectError ||
          err instanceof InvalidTreeEntryError
        ) {
          await m.moves.to("quarantined", {
            error: { kind: "apply_failed", message: err.message, paths: [] },
          });
          return { dropped: m, error: "quarantine", below };
        }
        throw err;
      }
    }
    if (base) built.push({ group, top: base });
  }
  return { built };
}

export async function drop(m: Member, error: EntryError | "quarantine"): Promise<void> {
  if (error !== "quarantine") await m.moves.fail(error);
}

/** The checks on a batch's top commit, recorded against it for each of its changes. */
export async function checkTop(
  ctx: ProcessContext,
  policy: Awaited<ReturnType<typeof policyFor>>,
  store: ObjectStore,
  group: Member[],
  top: string,
  checks: string[],
  report: PipelineReport,
) {
  const result = await runChecks({
    gitDir: store.gitDir,
    commit: top,
    policy,
    checks,
    timeoutMs: ctx.opts.checkTimeoutMs,
  });
  if (checks.length > 0) report.checkRuns++;
  // One run on one commit, recorded for each change it stood for, at one time.
  const at = Date.now();
  for (const m of group)
    await recordCheckRuns(
      ctx.db,
      {
        place: "landing",
        repo: m.entry.repo,
        commit: top,
        entryId: m.entry.id,
        changeRequestId: m.change.id,
      },
      result.ran,
      at,
    );
  return result;
}

/** Re-runs a failed batch's checks on the same commit; true when a re-run passes (flaky). */
export async function rerunFailed(
  ctx: ProcessContext,
  policy: Awaited<ReturnType<typeof policyFor>>,
  store: ObjectStore,
  built: Built,
  result: Awaited<ReturnType<typeof checkTop>> | undefined,
  settings: QueuePipeline,
  report: PipelineReport,
): Promise<boolean> {
  if (!result || result.ok) return true;
  for (let i = 0; i < settings.flakyReruns; i++) {
    const again = await checkTop(
      ctx,
      policy,
      store,
      built.group,
      built.top,
      [result.check],
      report,
    );
    if (again.ok) {
      log.warn(
        { commit: built.top, check: result.check, entries: built.group.map((m) => m.entry.id) },
        "a check failed and then passed on the same commit: flaky, nobody blamed",
      );
      return true;
    }
  }
  return false;
}

/**
 * Moves the branch from the tip the stack was built on to the top of the passing batches, under
 * the landing lock, and records each change merged as its own commit. The number landed, or -1
 * when the tip moved meanwhile (nothing landed; the lane stacks again).
 */
export async function landPrefix(
  ctx: ProcessContext,
  store: ObjectStore,
  branchRef: string,
  tip: string | null,
  passing: Built[],
  lock: LandLock,
): Promise<number> {
  const top = (passing.at(-1) as Built).top;
  const first = passing[0]?.group[0];
  const repo = ctx.config.repositories.find((r) => r.name === first?.entry.repo);
  const repoName = first?.entry.repo ?? "";
  await lock.acquire(repoName);
  try {
    // One move (for a remote, one push) takes the branch over every passing batch.
    await moveBranch(ctx.db, repo, store.gitDir, branchRef, top, tip);
  } catch (err) {
    if (err instanceof RefLockedError) return -1;
    if (!(err instanceof RefMovedError)) throw err;
    const carried = await carryOver(ctx, store, branchRef, tip, passing, first?.entry.lane ?? "");
    if (carried === null) return -1;
  } finally {
    lock.release(repoName);
  }
  const landed = passing.flatMap((b) => b.group);
  await merge(ctx, landed);
  return landed.length;
}

/**
 * How many times a passing result is stacked again on a tip that moved in other areas before the
 * lane checks again. Each lost try means another lane (on this host or another) landed, so the
 * branch moves on meanwhile; with workers on several hosts pushing to one remote, several in a
 * row are common, and a check run costs far more than a fetch and a push.
 */
const CARRY_TRIES = 10;

/**
 * Lanes by area (policy queue.pipeline.lanes "area"): the branch moved under a lane, and if
 * everything that moved it touched only other areas, the lane's passing result still holds —
 * the policy's opt-in says an area's checks depend only on its own files — so its changes are
 * stacked again on the new tip and land without checking again. The new top, or null when the
 * tip moved within the lane's area (or the lane spans areas): the lane stacks and checks again.
 */
async function carryOver(
  ctx: ProcessContext,
  store: ObjectStore,
  branchRef: string,
  checkedOn: string | null,
  passing: Built[],
  lane: string,
): Promise<string | null> {
  if (!lane || lane === "*" || !checkedOn) return null;
  const first = passing[0]?.group[0];
  const repo = ctx.config.repositories.find((r) => r.name === first?.entry.repo);
  const policy = policyFor(ctx.config, first?.entry.repo ?? "");
  for (let tries = 0; tries < CARRY_TRIES; tries++) {
    const now = readRefFs(store.gitDir, branchRef);
    if (!now) return null;
    const moved = await Repo.at(store.gitDir).changedPaths(checkedOn, now);
    if (moved.some((p) => (areaOf(policy, p)?.name ?? "*") === lane)) return null;
    const restacked = await stack(
      store,
      passing.map((b) => b.group),
      now,
    );
    if (!("built" in restacked)) return null;
    const top = restacked.built.at(-1)?.top;
    if (!top) return null;
    try {
      await moveBranch(ctx.db, repo, store.gitDir, branchRef, top, now);
      log.info(
        {
          lane,
          checkedOn,
          landedOn: now,
          entries: passing.flatMap((b) => b.group.map((m) => m.entry.id)),
        },
        "a lane's passing result carried over another lane's landing in other areas",
      );
      return top;
    } catch (err) {
      if (!(err instanceof RefMovedError)) throw err;
    }
  }
  return null;
}

/** Records landed changes as merged, each as its own commit, in one transaction. */
export async function merge(ctx: ProcessContext, landed: Member[]): Promise<void> {
  // On PostgreSQL a transaction that loses a serialization conflict runs its body again: the
  // members' in-memory states start over with it (else the rerun would try merged → merged and
  // leave them leased in `checking`), and go back to where they were if it fails.
  const from = landed.map((m) => m.moves.state);
  const restore = () => {
    landed.forEach((m, i) => {
      m.moves.state = from[i] ?? m.moves.state;
    });
  };
  try {
    await ctx.db.transaction(async (tx) => {
      restore();
      for (const m of landed) {
        if (m.moves.state === "checking" || m.moves.state === "applying") await m.moves.to("ready");
        await m.moves.to("merged", { mergedCommit: m.commit ?? undefined });
        if (m.change.revertOf) await markRolledBack(tx, m.change.revertOf, ctx.owner);
      }
    });
  } catch (err) {
    restore();
    throw err;
  }
}
