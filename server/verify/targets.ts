import { and, asc, desc, eq, inArray, isNotNull, max } from "drizzle-orm";
import type { LoadedConfig } from "@/server/config/load";
import { policyFor } from "@/server/config/policy";
import type { DbLike } from "@/server/db/client";
import { changeRequests, queueEntries, verifications } from "@/server/db/schema";
import { Repo } from "@/server/git/repo";
import { pendingStates } from "@/server/state/queue/states";
import type { Entry } from "@/server/state/queue/store";
import type { VerificationRow } from "../state/verify/store";

// A target branch and what is known of it: its verifications (the one running, the latest, the
// last good commit), its landings, and the history between two of its commits.

/** A target branch of a repository whose policy has `postMerge`. */
export type Target = { repo: string; branch: string };

/** States of an entry whose landing is still to come (or waits for a reviewer). */
export const UNLANDED = [...pendingStates, "awaiting_approval", "qa_required"] as const;

const gitDirs = new Map<string, string>();
export async function gitDirOf(repoPath: string): Promise<string> {
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
export const landedBetween = (gitDir: string, good: string, head: string) =>
  Repo.ofGitDir(gitDir).firstParentsBetween(good, head);

/** Every repository whose policy has `postMerge`, with its branches that changes landed on. */
export async function verifiableTargets(
  db: DbLike,
  config: LoadedConfig,
  repo?: string,
): Promise<Target[]> {
  const out: Target[] = [];
  for (const r of config.repositories) {
    if (!policyFor(config, r.name).postMerge || (repo && r.name !== repo)) continue;
    const branches = new Set([r.targetBranch]);
    for (const row of await db
      .selectDistinct({ branch: queueEntries.targetBranch })
      .from(queueEntries)
      .where(and(eq(queueEntries.repo, r.name), eq(queueEntries.state, "merged"))))
      branches.add(row.branch);
    for (const branch of branches) out.push({ repo: r.name, branch });
  }
  return out;
}

const ofTarget = (t: Target) =>
  and(eq(verifications.repo, t.repo), eq(verifications.targetBranch, t.branch));

export async function runningOf(db: DbLike, t: Target): Promise<VerificationRow | undefined> {
  return (
    await db
      .select()
      .from(verifications)
      .where(and(ofTarget(t), eq(verifications.state, "running")))
      .orderBy(desc(verifications.id))
      .limit(1)
  )[0];
}

export async function latestOf(db: DbLike, t: Target): Promise<VerificationRow | undefined> {
  return (
    await db
      .select()
      .from(verifications)
      .where(ofTarget(t))
      .orderBy(desc(verifications.id))
      .limit(1)
  )[0];
}

export const lastId = async (db: DbLike, t: Target) =>
  (
    await db
      .select({ id: max(verifications.id) })
      .from(verifications)
      .where(ofTarget(t))
      .limit(1)
  )[0]?.id ?? 0;

/** The oldest landing on the target branch (a real one, not a dry run). */
export async function firstLanding(db: DbLike, t: Target) {
  return (
    await db
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
      .limit(1)
  )[0];
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
  const known = await db
    .select()
    .from(verifications)
    .where(and(ofTarget(t), inArray(verifications.state, ["passed", "flaky", "culprit"])))
    .orderBy(desc(verifications.id))
    .limit(20);
  for (const v of known) {
    const good =
      v.state === "culprit"
        ? v.culpritCommit
          ? await firstParentOf(gitDir, v.culpritCommit)
          : null
        : v.headCommit;
    if (good && (await isAncestor(gitDir, good, head))) return good;
  }
  const first = await firstLanding(db, t);
  if (first?.mergedCommit && (await isAncestor(gitDir, first.mergedCommit, head)))
    return firstParentOf(gitDir, first.mergedCommit);
  return null;
}

/** A revert a verification queued that has not landed yet: the next one waits for it. */
export async function revertInFlight(db: DbLike, t: Target): Promise<Entry | undefined> {
  return (
    await db
      .select({ entry: queueEntries })
      .from(verifications)
      .innerJoin(queueEntries, eq(queueEntries.id, verifications.revertEntryId))
      .where(and(ofTarget(t), inArray(queueEntries.state, [...UNLANDED])))
      .limit(1)
  )[0]?.entry;
}
