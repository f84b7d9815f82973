import { GitError, git } from "./run";

export async function resolveRef(repoPath: string, ref: string): Promise<string | null> {
  try {
    return (
      await git(["rev-parse", "--verify", "--quiet", `${ref}^{commit}`], { cwd: repoPath })
    ).trim();
  } catch (err) {
    if (err instanceof GitError && err.exitCode === 1) return null;
    throw err;
  }
}

/** The tip moved (or another writer holds the lock): rebuild on the new tip and try again. */
export class RefMovedError extends Error {
  override name = "RefMovedError";
}

export async function isAncestor(repoPath: string, commit: string, ref: string): Promise<boolean> {
  try {
    await git(["merge-base", "--is-ancestor", commit, ref], { cwd: repoPath });
    return true;
  } catch (err) {
    if (err instanceof GitError && err.exitCode === 1) return false;
    throw err;
  }
}
