import type { LoadedRepository } from "@/schemas/config";
import type { Policy } from "@/schemas/policy";
import type { EntryError, EntryState } from "@/schemas/queue";
import { runChecks } from "@/server/checks/checks";
import { passedAtLanding, recordCheckRuns } from "@/server/checks/record";
import type { LoadedConfig } from "@/server/config/load";
import type { Db } from "@/server/db/client";
import type { PullRequestRef } from "@/server/db/schema/queue";
import { ApplyConflict } from "@/server/git/apply";
import { InvalidTreeEntryError, MissingObjectError, type ObjectStore } from "@/server/git/objects";
import { PatchParseError } from "@/server/git/patch";
import { RefLockedError, RefMovedError, readRefFs } from "@/server/git/refs-fs";
import { RemoteError } from "@/server/git/remote";
import { approvalGate } from "@/server/queue/approval-gate";
import { qaGate, qaWaitNote } from "@/server/queue/qa-gate";
import { openPullRequest } from "@/server/remotes/forge";
import {
  type ChangeRow,
  type Entry,
  failEntry,
  type QueueOptions,
  transition,
} from "../state/queue/store";
import {
  buildCandidate,
  type Candidate,
  type CandidateCache,
  catchUpWorktree,
  checkedOutTree,
  markWorktreeStale,
  prepareCandidate,
  staleWorktreeWarning,
  syncWorktree,
  worktreeIsClean,
} from "./land";
import type { LandLock } from "./land-lock";
import { moveBranch, remoteEntryError } from "./move-branch";
import { markRolledBack } from "./rollback";

// One try at landing a claimed entry on its branch's tip (processEntry, in process.ts, makes
// the tries): the candidate built and checked, the approval gate, the worktree, and the branch
// moved under the landing lock.

/** What processing an entry needs of its worker (a part of ProcessContext). */
export type LandingContext = {
  db: Db;
  owner: string;
  opts: QueueOptions & { checkTimeoutMs: number };
};

/** How many trees a change to these paths rewrites: each directory on the way, and the root. */
function treesTouched(paths: Iterable<string>): number {
  const dirs = new Set<string>([""]);
  for (const p of paths) {
    const parts = p.split("/");
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  return dirs.size;
}

/** An entry's moves as it is processed, from `applying`: each one a checked transition. */
export class Moves {
  state = "applying" as EntryState;
  private readonly started = Date.now();

  constructor(
    private readonly ctx: LandingContext,
    private readonly entry: Entry,
  ) {}

  async to(
    to: EntryState,
    extra: {
      error?: EntryError;
      mergedCommit?: string;
      warning?: string;
      checkedOn?: string;
      note?: string;
      pullRequest?: PullRequestRef;
    } = {},
  ): Promise<void> {
    await transition(this.ctx.db, this.entry, {
      from: this.state,
      to,
      owner: this.ctx.owner,
      durationMs: Date.now() - this.started,
      ...extra,
    });
    this.state = to;
  }

  /** A failure: retried later or quarantined, as failEntry decides. */
  async fail(error: EntryError): Promise<EntryState> {
    this.state = await failEntry(
      this.ctx.db,
      this.entry,
      this.state,
      this.ctx.owner,
      error,
      this.ctx.opts,
    );
    return this.state;
  }
}

/** One entry's landing under way: its change, where it lands, and what its attempts keep. */
export type Landing = {
  ctx: LandingContext;
  entry: Entry;
  change: ChangeRow;
  moves: Moves;
  store: ObjectStore;
  /** The repository it lands in (for a remote, the branch is moved by a push). */
  repo: LoadedRepository;
  /** The config it was claimed under (land "pull-request" opens pull requests with its github). */
  config: LoadedConfig;
  policy: Policy;
  branchRef: string;
  dryRun: boolean;
  trailers: string[];
  cache: CandidateCache;
};

/**
 * One try at landing on the branch's tip as it is now: the candidate built and checked (or
 * prepared), the worktree checked, the branch moved under the lock. The entry's end state, or
 * null when the tip moved meanwhile (the caller tries again on the new tip).
 */
export async function landOnTip(
  l: Landing,
  approvedOn: string | null,
  lock: LandLock,
): Promise<EntryState | null> {
  const ready = await checkedCandidate(l, approvedOn);
  if ("ended" in ready) return ready.ended;
  const { store, entry } = l;
  const worktree = l.dryRun ? null : checkedOutTree(store, entry.targetBranch);
  // A worktree left stale by a failed update is the operator's now: no check, no sync.
  const stale = worktree ? await staleWorktreeWarning(store, worktree) : undefined;
  if (
    worktree &&
    !stale &&
    !(await worktreeIsClean(worktree)) &&
    !(await catchUpWorktree(store, worktree, readRefFs(store.gitDir, l.branchRef) ?? "").catch(
      () => false,
    ))
  ) {
    return l.moves.fail({
      kind: "worktree_dirty",
      message: `${entry.targetBranch} is checked out in ${worktree} with uncommitted changes; commit or stash them`,
      paths: [],
    });
  }
  const landed = await landUnderLock(l, ready.checked, lock);
  if (landed.failure === "quarantine") return l.moves.state;
  if (landed.failure) return l.moves.fail(landed.failure);
  if (!landed.commit) return null;
  const commit = landed.commit;
  // Out for review on the forge: it is merged once the forge merges it (remotes/forge.ts).
  if (landed.pullRequest) {
    if (l.moves.state !== "ready") await l.moves.to("ready");
    await l.moves.to("in_review", {
      pullRequest: landed.pullRequest,
      note: `#${landed.pullRequest.number} ${landed.pullRequest.url}`,
    });
    return l.moves.state;
  }
  const tipBefore = landed.tipBefore;
  const warning =
    worktree && tipBefore && !stale
      ? await syncWorktree(worktree, tipBefore, commit).then(
          () => undefined,
          (err: unknown) => markWorktreeStale(store, worktree, commit, err),
        )
      : stale;
  return landedDone(l, commit, warning);
}

/**
 * The candidate on the tip, checked when the change has checks (a tip its checks passed on
 * before it waited for approval is not checked again), else its file changes prepared; then
 * the approval gate. The checked candidate (null without checks), or the entry's end state:
 * quarantined, failed, waiting for approval, or a dry run's landing.
 */
async function checkedCandidate(
  l: Landing,
  approvedOn: string | null,
): Promise<{ checked: Candidate | null } | { ended: EntryState }> {
  const { store, change, moves, cache } = l;
  const tip = readRefFs(store.gitDir, l.branchRef);
  if (change.checks.length === 0) {
    await prepareCandidate(store, change, tip, cache);
    if (await waitForApproval(l, tip)) return { ended: moves.state };
    // The trees along the touched paths and the commit: their files made before the lock.
    store.reserve(treesTouched(cache.prepared?.changes.keys() ?? []) + 1);
    return { checked: null };
  }
  const candidate = await buildOrFail(l, () =>
    buildCandidate(store, change, tip, l.trailers, cache),
  );
  if ("error" in candidate)
    return {
      ended: candidate.error === "quarantine" ? moves.state : await moves.fail(candidate.failure),
    };
  const unmoved = approvedOn !== null && approvedOn === tip;
  if (moves.state !== "checking" && !unmoved) await moves.to("checking");
  const result = unmoved ? { ok: true as const } : await checkAtLanding(l, candidate.commit);
  if (!result.ok) {
    await moves.to("quarantined", {
      error: {
        kind: result.timedOut ? "check_timeout" : "check_failed",
        message: result.reason,
        paths: [],
        outputTail: result.outputTail,
      },
    });
    return { ended: moves.state };
  }
  await moves.to("ready");
  if (await waitForApproval(l, tip)) return { ended: moves.state };
  if (l.dryRun) return { ended: await landedDone(l, candidate.commit) };
  return { checked: { ...candidate, via: candidate.via } };
}

/**
 * The change's checks on the exact commit that would land, each run recorded against it; a check
 * that already passed at landing on this same commit (a candidate rebuilt after a crash that came
 * out the same) is not run again. Nothing else — not the agent's own run in its workspace —
 * stands in for them.
 */
async function checkAtLanding(l: Landing, commit: string) {
  const { store, change, entry } = l;
  const done = await passedAtLanding(l.ctx.db, commit, change.checks);
  const result = await runChecks({
    gitDir: store.gitDir,
    commit,
    policy: l.policy,
    checks: change.checks.filter((c) => !done.has(c)),
    timeoutMs: l.ctx.opts.checkTimeoutMs,
  });
  await recordCheckRuns(
    l.ctx.db,
    { place: "landing", repo: entry.repo, commit, entryId: entry.id, changeRequestId: change.id },
    result.ran,
  );
  return result;
}

/**
 * Under the landing lock: the candidate (built now on the tip, unless it was checked: checked
 * candidates land only on the tip they were checked on), and the branch moved to it.
 */
async function landUnderLock(
  l: Landing,
  checked: Candidate | null,
  lock: LandLock,
): Promise<{
  commit: string | null;
  tipBefore: string | null;
  failure: EntryError | "quarantine" | null;
  pullRequest: PullRequestRef | null;
}> {
  const { store, branchRef } = l;
  await lock.acquire(l.entry.repo);
  let commit: string | null = null;
  let tipBefore: string | null = null;
  let failure: EntryError | "quarantine" | null = null;
  let pullRequest: PullRequestRef | null = null;
  try {
    tipBefore = readRefFs(store.gitDir, branchRef);
    const tip = tipBefore;
    // Checked candidates land only on the tip they were checked on.
    const candidate = checked
      ? checked
      : await buildOrFail(l, () => buildCandidate(store, l.change, tip, l.trailers, l.cache));
    if ("error" in candidate)
      failure = candidate.error === "quarantine" ? "quarantine" : candidate.failure;
    else if (l.dryRun) commit = candidate.commit;
    else if (!checked || (await store.commitParent(candidate.commit)) === tipBefore) {
      try {
        if (l.repo.land === "pull-request")
          pullRequest = await openPullRequest(l.config, l.repo, l.entry.id, candidate.commit, {
            title: l.change.summary.split("\n")[0] ?? `Change ${l.change.id}`,
            body: `${l.change.summary}\n\nHyperion change request ${l.change.id}, queue entry Q${l.entry.id}.`,
          });
        else
          await moveBranch(l.ctx.db, l.repo, store.gitDir, branchRef, candidate.commit, tipBefore);
        commit = candidate.commit;
      } catch (err) {
        // Another writer's lock is no race and no conflict: wait, without spending an attempt.
        if (err instanceof RefLockedError)
          failure = { kind: "ref_locked", message: err.message, paths: [] };
        // Nor is a remote's server that is down or refuses: the entry waits for it.
        else if (err instanceof RemoteError) failure = remoteEntryError(err);
        else if (!(err instanceof RefMovedError)) throw err;
      }
    }
  } finally {
    lock.release(l.entry.repo);
  }
  return { commit, tipBefore, failure, pullRequest };
}

/** Landed (or a dry run's candidate made): merged, and a revert marks what it reverts. */
export async function landedDone(
  l: Landing,
  commit: string,
  warning?: string,
): Promise<EntryState> {
  const { ctx, change, moves } = l;
  // On PostgreSQL a transaction that loses a serialization conflict runs its body again: the
  // in-memory state starts over with it (else the rerun would try merged → merged), and goes
  // back to where it was if the transaction fails.
  const from = moves.state;
  try {
    await ctx.db.transaction(async (tx) => {
      moves.state = from;
      if (moves.state !== "ready") await moves.to("ready");
      await moves.to("merged", { mergedCommit: commit, warning });
      if (change.revertOf) await markRolledBack(tx, change.revertOf, ctx.owner);
    });
  } catch (err) {
    moves.state = from;
    throw err;
  }
  return moves.state;
}

/**
 * Its risk's tier wants approvals it does not have: it waits, unleased, for a reviewer
 * (approvals/service.ts moves it back to the queue). The tip its checks passed on is kept.
 */
async function waitForApproval(l: Landing, tip: string | null): Promise<boolean> {
  const { change } = l;
  const gate = await approvalGate(l.ctx.db, l.policy, change, l.entry.id);
  if (gate.satisfied) return waitForQa(l, tip);
  await l.moves.to("awaiting_approval", {
    ...(tip && change.checks.length > 0 ? { checkedOn: tip } : {}),
    note: `${change.risk} risk: waiting for ${gate.needed - gate.have} more approval${gate.needed - gate.have === 1 ? "" : "s"}${gate.tier.requireDiff ? " from a reviewer who opened the whole diff" : ""}`,
  });
  return true;
}

/**
 * Approved (or needing no approval), its request's kind wants manual QA (policy `qa.kinds`) it
 * has not had on this patch: it waits, unleased, in `qa_required` for a person's pass or fail
 * (qa/service.ts). The tip its checks passed on is kept, as for an approval.
 */
async function waitForQa(l: Landing, tip: string | null): Promise<boolean> {
  const { change } = l;
  const gate = await qaGate(l.ctx.db, l.policy, change, l.entry.id);
  if (gate.satisfied || !gate.kind) return false;
  await l.moves.to("qa_required", {
    ...(tip && change.checks.length > 0 ? { checkedOn: tip } : {}),
    note: qaWaitNote(gate.kind),
  });
  return true;
}

/** Builds a candidate, turning a conflict into a failure and a broken patch into quarantine. */
async function buildOrFail(
  l: Landing,
  build: () => Promise<Candidate>,
): Promise<Candidate | { error: "fail"; failure: EntryError } | { error: "quarantine" }> {
  try {
    return await build();
  } catch (err) {
    if (err instanceof ApplyConflict)
      return {
        error: "fail",
        failure: { kind: "conflict", message: err.message, paths: err.paths },
      };
    // Failures the same change meets on every attempt: quarantined, not retried as internal.
    if (
      err instanceof PatchParseError ||
      err instanceof MissingObjectError ||
      err instanceof InvalidTreeEntryError
    ) {
      await l.moves.to("quarantined", {
        error: { kind: "apply_failed", message: err.message, paths: [] },
      });
      return { error: "quarantine" };
    }
    throw err;
  }
}
