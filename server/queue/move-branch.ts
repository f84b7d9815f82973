import type { LoadedRepository } from "@/schemas/config";
import type { EntryError } from "@/schemas/queue";
import type { Db } from "@/server/db/client";
import { casRefFs, RefLockedError, RefMovedError, readRefFs } from "@/server/git/refs-fs";
import { fetchRemote, pushCas, RemoteError, RemoteMovedError } from "@/server/git/remote";
import { recordFailed, recordFetched, recordPushed } from "@/server/remotes/status";

/**
 * Moves a branch from `expected` to `next`: the one compare-and-swap every landing goes through.
 * A local repository's ref is swapped in place. A remote's is pushed first — the server is the
 * authority — and the mirror follows once the server moved. A push that lost the race refreshes
 * the mirror and is a RefMovedError, exactly as a local tip that moved: the caller rebuilds on the
 * new tip. RemoteError when the server cannot be reached or refuses.
 */
export async function moveBranch(
  db: Db,
  repo: LoadedRepository | undefined,
  gitDir: string,
  ref: string,
  next: string,
  expected: string | null,
): Promise<void> {
  if (!repo?.remote) {
    casRefFs(gitDir, ref, next, expected);
    return;
  }
  try {
    await pushCas(repo, next, expected);
  } catch (err) {
    if (err instanceof RemoteMovedError) {
      const tip = await fetchRemote(repo).catch(() => null);
      if (tip !== null) await recordFetched(db, repo, tip);
      // The lease held (the server is where we expected) yet the push was rejected: a rule on
      // the server refuses it, not a race.
      if (tip !== null && tip === expected) {
        const e = new RemoteError(
          "refused",
          `${repo.remote} refused to move ${repo.targetBranch} (a branch protection or a hook?)`,
        );
        await recordFailed(db, repo, e.failure, e.message);
        throw e;
      }
      throw new RefMovedError(`${repo.remote}'s ${repo.targetBranch} moved`);
    }
    if (err instanceof RemoteError) await recordFailed(db, repo, err.failure, err.message);
    throw err;
  }
  await recordPushed(db, repo, next);
  // The server has it: the mirror follows. A fetch that got there first leaves it moved already.
  try {
    casRefFs(gitDir, ref, next, expected);
  } catch (err) {
    if (!(err instanceof RefMovedError || err instanceof RefLockedError)) throw err;
    await fetchRemote(repo).catch(() => undefined);
  }
}

/** A server's failure as an entry's error: it waits without spending attempts (states.ts). */
export function remoteEntryError(err: RemoteError): EntryError {
  const kind =
    err.failure === "unreachable"
      ? "remote_unreachable"
      : err.failure === "auth"
        ? "remote_auth"
        : "remote_refused";
  return { kind, message: err.message, paths: [] };
}

/**
 * Before a remote repository's entry is landed: the mirror must hold the branch, and an entry
 * claimed before (a worker may have pushed it and died) is looked for on the server's branch as
 * it is now, so it is never pushed twice. An error when the server cannot be reached.
 */
export async function readyMirror(
  db: Db,
  repo: LoadedRepository,
  claimedBefore: boolean,
): Promise<EntryError | null> {
  if (!repo.remote) return null;
  if (!claimedBefore && readRefFs(repo.path, `refs/heads/${repo.targetBranch}`)) return null;
  try {
    await recordFetched(db, repo, await fetchRemote(repo));
    return null;
  } catch (err) {
    if (!(err instanceof RemoteError)) throw err;
    await recordFailed(db, repo, err.failure, err.message);
    return remoteEntryError(err);
  }
}
