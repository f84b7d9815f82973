import { and, eq, inArray } from "drizzle-orm";
import type { CheckResult } from "@/server/checks/checks";
import type { Db } from "@/server/db/client";
import { changeRequests, queueEntries } from "@/server/db/schema";
import { bisect } from "./bisect";
import { type Carrying, failureText, short, type VerifyOutcome } from "./carrying";
import { landedBetween, UNLANDED } from "./targets";

/** The first bad commit bisection found, with the failure output to blame it with. */
export type Culprit = { commit: string; candidates: number; output: string };

/**
 * Bisects the first-parent commits since the last green one (`good`) to the first that fails,
 * skipping those that hold a culprit already reverted. An outcome instead when no landing can
 * be blamed: the branch's history holds none, the good end fails too, or the failure hides
 * behind the revert of an earlier culprit.
 */
export async function findCulprit(
  carry: Carrying,
  good: string,
  first: CheckResult,
): Promise<Culprit | { outcome: VerifyOutcome }> {
  const { db, row, names, probe, finish } = carry;
  const head = row.headCommit;
  const failedOutput = failureText(first);
  const commits = await landedBetween(carry.gitDir, good, head);
  const hidden = await revertWindows(db, row.repo, commits);
  const candidates = commits.filter((_, i) => !hidden.skip.has(i));
  if (candidates.length === 0 || candidates[candidates.length - 1] !== head) {
    const why =
      commits.length === 0
        ? `the tip ${short(head)} is the last green commit, and its checks fail now: no landing is to blame (has the check or its environment changed?)`
        : `the tip ${short(head)} still holds change ${hidden.pendingAtHead ?? "?"}, whose revert has not landed: verifying again once it has`;
    return {
      outcome: await finish("failed", `post-merge checks (${names}) fail: ${why}`, {
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
    const again = await probe(good, "the good end, checked again");
    if (!again.ok)
      return {
        outcome: await finish(
          "failed",
          `post-merge checks (${names}) fail at the last green commit ${short(good)} too: no landing since is to blame (has the check or its environment changed?)`,
          { output: failureText(again) },
        ),
      };
  }
  const output = failureText(failures.get(culprit) ?? first);
  if (hidden.revertCommits.has(culprit))
    return {
      outcome: await finish(
        "failed",
        `post-merge checks (${names}) fail from ${short(culprit)} on, the revert of an earlier culprit: the failure entered while that culprit was on the branch and hides behind it (the landings between them are suspects); look at them, then verify again`,
        { culpritCommit: culprit, output },
      ),
    };
  return { commit: culprit, candidates: candidates.length, output };
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
      ...(await db
        .select({
          id: queueEntries.id,
          changeRequestId: queueEntries.changeRequestId,
          mergedCommit: queueEntries.mergedCommit,
        })
        .from(queueEntries)
        .where(and(eq(queueEntries.repo, repo), inArray(queueEntries.mergedCommit, chunk)))),
    );
  }
  const skip = new Set<number>();
  const revertCommits = new Set<string>();
  let pendingAtHead: string | null = null;
  const byChange = new Map(landed.map((l) => [l.changeRequestId, l]));
  if (byChange.size === 0) return { skip, revertCommits, pendingAtHead };
  const reverts = await db
    .select({
      revertOf: changeRequests.revertOf,
      state: queueEntries.state,
      mergedCommit: queueEntries.mergedCommit,
    })
    .from(changeRequests)
    .innerJoin(queueEntries, eq(queueEntries.changeRequestId, changeRequests.id))
    .where(inArray(changeRequests.revertOf, [...byChange.keys()]));
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
