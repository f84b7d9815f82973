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

/**
 * Compare-and-swap of `ref` from `oldOid` to `newOid`, together with creating each of `create`
 * — one git ref transaction, so all move or none do.
 */
export async function casUpdateRefs(
  repoPath: string,
  update: { ref: string; newOid: string; oldOid: string },
  create: { ref: string; oid: string }[] = [],
): Promise<void> {
  const lines = [
    "start",
    `update ${update.ref} ${update.newOid} ${update.oldOid}`,
    ...create.map((c) => `create ${c.ref} ${c.oid}`),
    "prepare",
    "commit",
    "",
  ];
  try {
    await git(["update-ref", "--stdin"], { cwd: repoPath, input: lines.join("\n") });
  } catch (err) {
    if (
      err instanceof GitError &&
      /is at .* but expected|cannot lock ref|unable to create .*\.lock|reference already exists/.test(
        err.stderr,
      )
    ) {
      throw new RefMovedError(err.stderr.trim());
    }
    throw err;
  }
}
