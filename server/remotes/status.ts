import { eq } from "drizzle-orm";
import type { DbLike } from "@/server/db/client";
import { remotes } from "@/server/db/schema";
import type { RemoteFailure, RemoteRepo } from "@/server/git/remote";

// The last thing learned of each remote's server. Not a state machine: a record of facts, each
// write replacing the last; a success clears the failure.

export type RemoteStatus = typeof remotes.$inferSelect;

async function upsert(db: DbLike, repo: RemoteRepo, set: Partial<RemoteStatus>, now: number) {
  await db
    .insert(remotes)
    .values({ repo: repo.name, url: repo.remote ?? "", updatedAt: now, ...set })
    .onConflictDoUpdate({
      target: remotes.repo,
      set: { url: repo.remote ?? "", updatedAt: now, ...set },
    });
}

export async function recordFetched(db: DbLike, repo: RemoteRepo, tip: string, now = Date.now()) {
  await upsert(
    db,
    repo,
    { tip, fetchedAt: now, failure: null, failureMessage: null, failedAt: null },
    now,
  );
}

export async function recordPushed(db: DbLike, repo: RemoteRepo, tip: string, now = Date.now()) {
  await upsert(
    db,
    repo,
    { tip, pushedAt: now, failure: null, failureMessage: null, failedAt: null },
    now,
  );
}

export async function recordFailed(
  db: DbLike,
  repo: RemoteRepo,
  failure: RemoteFailure,
  message: string,
  now = Date.now(),
) {
  await upsert(db, repo, { failure, failureMessage: message, failedAt: now }, now);
}

export async function remoteStatuses(db: DbLike): Promise<RemoteStatus[]> {
  return await db.select().from(remotes);
}

export async function remoteStatus(db: DbLike, repo: string): Promise<RemoteStatus | undefined> {
  return (await db.select().from(remotes).where(eq(remotes.repo, repo)).limit(1))[0];
}
