import fs from "node:fs";
import path from "node:path";
import {
  ApplyConflict,
  applyPatchToTree,
  layChanges,
  type Prepared,
  prepareChanges,
  stillApplies,
} from "@/server/git/apply";
import type { ObjectStore } from "@/server/git/objects";
import { type FilePatch, parsePatch } from "@/server/git/patch";
import { headTarget } from "@/server/git/refs-fs";
import { MergeConflictError, Repo } from "@/server/git/repo";
import { GitError } from "@/server/git/run";
import type { ChangeRow } from "../state/queue/store";
import { writeChangeCommit } from "./commit";

export type Candidate = { commit: string; tree: string; via: "apply" | "merge-tree" };

/** Work kept between attempts on one entry: the parsed patch and its prepared file changes. */
export type CandidateCache = { files?: FilePatch[]; prepared?: Prepared };

/**
 * Computes the change's file changes against `tip` ahead of landing, outside any lock, so the
 * landing step only lays them onto the tip's tree. Problems surface later, in buildCandidate.
 */
export async function prepareCandidate(
  store: ObjectStore,
  change: ChangeRow,
  tip: string | null,
  cache: CandidateCache,
): Promise<void> {
  try {
    cache.files ??= parsePatch(change.patch);
    cache.prepared = await prepareChanges(
      store,
      tip ? await store.commitTree(tip) : null,
      cache.files,
    );
  } catch {
    cache.prepared = undefined;
  }
}

/**
 * The commit that would land `change` on `tip`: the patch applied to the tip's tree (reusing
 * prepared work when the touched paths are unchanged); failing that, when the change names its
 * base, the patch applied to the base and merged onto the tip with `git merge-tree
 * --write-tree` — a rebase without a checkout. Conflicts throw ApplyConflict with the paths.
 */
export async function buildCandidate(
  store: ObjectStore,
  change: ChangeRow,
  tip: string | null,
  extraTrailers: string[] = [],
  cache: CandidateCache = {},
): Promise<Candidate> {
  // Parsed again at landing: the rules may have tightened since the change was queued.
  cache.files ??= parsePatch(change.patch);
  const files = cache.files;
  const commitOn = (tree: string, parents: string[]) =>
    writeChangeCommit(store, {
      tree,
      parents,
      author: { name: change.authorName, email: change.authorEmail },
      summary: change.summary,
      changeRequestId: change.id,
      taskId: change.taskId,
      extraTrailers,
    });
  const tipTree = tip ? await store.commitTree(tip) : null;
  try {
    let tree: string;
    if (cache.prepared && (await stillApplies(store, tipTree, cache.prepared))) {
      tree = await layChanges(store, tipTree, cache.prepared);
    } else {
      cache.prepared = undefined;
      tree = await applyPatchToTree(store, tipTree, files, change.patch);
    }
    return { commit: commitOn(tree, tip ? [tip] : []), tree, via: "apply" };
  } catch (err) {
    if (!(err instanceof ApplyConflict) || !change.baseCommit || !tip || change.baseCommit === tip)
      throw err;
  }
  const baseTree = await store.commitTree(change.baseCommit);
  const onBase = commitOn(await applyPatchToTree(store, baseTree, files, change.patch), [
    change.baseCommit,
  ]);
  let tree: string;
  try {
    tree = await Repo.at(store.repoPath).mergeTree(tip, onBase);
  } catch (err) {
    if (err instanceof MergeConflictError)
      throw new ApplyConflict("the change conflicts with the target branch", err.paths);
    throw err;
  }
  return { commit: commitOn(tree, [tip]), tree, via: "merge-tree" };
}

/**
 * Whether the change already landed on the branch: its trailer on a first-parent commit made
 * since the entry was created. Used when an entry is claimed again after a crash or an
 * expired lease, so nothing lands twice.
 */
export async function findLanded(
  store: ObjectStore,
  tip: string | null,
  changeRequestId: number,
  sinceMs: number,
): Promise<string | null> {
  const needle = `\nHyperion-Change-Request: ${changeRequestId}\n`;
  let oid = tip;
  for (let i = 0; oid && i < 100_000; i++) {
    const text = (await store.read(oid, "commit")).toString();
    if (text.includes(needle)) return oid;
    const committed = Number(/^committer .* (\d+) [+-]\d{4}$/m.exec(text)?.[1] ?? 0) * 1000;
    // Our commits carry the landing time; allow for clock skew between machines.
    if (committed < sinceMs - 10 * 60_000) return null;
    oid = /^parent ([0-9a-f]{40})$/m.exec(text)?.[1] ?? null;
  }
  return null;
}

/**
 * Where the target branch is checked out in a non-bare repository, its working tree follows
 * the branch (as git's receive.denyCurrentBranch=updateInstead does): `checkedOutTree` tells
 * whether that applies, `worktreeIsClean` refuses to land over local edits, and `syncWorktree`
 * moves the files afterwards.
 */
export function checkedOutTree(store: ObjectStore, branch: string): string | null {
  if (!store.worktree) return null;
  return headTarget(store.gitDir) === `refs/heads/${branch}` ? store.worktree : null;
}

export async function worktreeIsClean(worktree: string): Promise<boolean> {
  const repo = Repo.at(worktree);
  await repo.refreshIndex();
  return repo.worktreeMatches("HEAD");
}

export async function syncWorktree(
  worktree: string,
  oldCommit: string,
  newCommit: string,
): Promise<void> {
  await Repo.at(worktree).moveWorktree(oldCommit, newCommit);
}

/** How far back a worktree left behind by a crash may lag: landings between crash and now. */
const CATCH_UP_DEPTH = 50;

/**
 * A worker that dies between moving the branch and updating the checked-out files leaves a
 * worktree that matches an earlier commit of the branch exactly — stale, not edited. Brings
 * such a worktree up to `tip` and says so; false when it matches none of the branch's last
 * commits, i.e. someone really edited it.
 */
export async function catchUpWorktree(
  store: ObjectStore,
  worktree: string,
  tip: string,
): Promise<boolean> {
  let oid = await store.commitParent(tip);
  for (let i = 0; oid && i < CATCH_UP_DEPTH; i++) {
    if (await Repo.at(worktree).worktreeMatches(oid)) {
      await syncWorktree(worktree, oid, tip);
      return true;
    }
    oid = await store.commitParent(oid);
  }
  return false;
}

/**
 * Written into the git directory when a landed commit could not be written to the checked-out
 * worktree (permissions, a full disk, an untracked file in the way). The branch has moved on,
 * so the worktree now differs from HEAD; while this marker exists landings neither refuse
 * that difference as local edits nor touch the worktree, which is left for the operator.
 */
export const STALE_WORKTREE_MARKER = "hyperion-worktree-stale";

const repairHint = (worktree: string) =>
  `run 'git -C ${worktree} reset --hard' (or 'git -C ${worktree} checkout -f') once the cause is fixed`;

/**
 * Records that syncing `worktree` to `commit` failed and returns the warning for the entry's
 * log. The marker holds the commit and git's error.
 */
export function markWorktreeStale(
  store: ObjectStore,
  worktree: string,
  commit: string,
  err: unknown,
): string {
  const error = (err instanceof GitError ? err.stderr : String((err as Error)?.message ?? err))
    .trim()
    .slice(0, 4000);
  fs.writeFileSync(
    path.join(store.gitDir, STALE_WORKTREE_MARKER),
    `${JSON.stringify({ commit, worktree, error, at: new Date().toISOString() }, null, 2)}\n`,
  );
  return `landed, but the worktree ${worktree} could not be updated to ${commit.slice(0, 12)}: ${error.split("\n")[0] ?? ""}; it is left as it was, and later landings leave it alone until it matches HEAD: ${repairHint(worktree)}`;
}

/**
 * The warning for a landing while the worktree is stale (see STALE_WORKTREE_MARKER), or
 * undefined when it is not. A worktree found clean against HEAD again clears the marker, and
 * landings go back to keeping it in step.
 */
export async function staleWorktreeWarning(
  store: ObjectStore,
  worktree: string,
): Promise<string | undefined> {
  const marker = path.join(store.gitDir, STALE_WORKTREE_MARKER);
  if (!fs.existsSync(marker)) return undefined;
  if (await worktreeIsClean(worktree)) {
    fs.rmSync(marker, { force: true });
    return undefined;
  }
  return `the worktree ${worktree} was not updated: it has been stale since an earlier update failed (see ${marker}); ${repairHint(worktree)}`;
}
