import fs from "node:fs";
import { git } from "./run";

// A repository's every ref and object in one file (`git bundle`), for `hyperion backup`, and
// a repository made again from one, for `hyperion restore`. A bundle is written from what the
// refs name when it starts: objects are never removed while Hyperion runs, so it is
// consistent while the queue lands.

export type RepoShape = {
  /** A bare repository (a remote's mirror), or one with a working tree. */
  bare: boolean;
  /** The branch HEAD names (refs/heads/…), or null when HEAD is detached. */
  head: string | null;
  /** How many refs it has: a repository with none has nothing to bundle. */
  refs: number;
};

/** What a repository is, for making it again the same way. */
export async function repoShape(dir: string): Promise<RepoShape> {
  const bare = (await git(["rev-parse", "--is-bare-repository"], { cwd: dir })).trim() === "true";
  const head = (await git(["symbolic-ref", "-q", "HEAD"], { cwd: dir }).catch(() => "")).trim();
  const refs = (await git(["for-each-ref", "--format=%(refname)"], { cwd: dir }))
    .split("\n")
    .filter(Boolean).length;
  return { bare, head: head || null, refs };
}

/** Writes every ref of the repository at `dir` and their objects into `file`. */
export async function createBundle(dir: string, file: string): Promise<void> {
  await git(["bundle", "create", "--quiet", file, "--all"], { cwd: dir });
}

/** The tips a bundle holds, as `sha ref` lines; a GitError when the file is not a whole bundle. */
export async function verifyBundle(file: string, scratch: string): Promise<string[]> {
  // `bundle verify` needs a repository to check prerequisites against: a full bundle has none.
  await git(["init", "--quiet", "--bare", scratch], { cwd: "/" });
  await git(["bundle", "verify", "--quiet", file], { cwd: scratch });
  return (await git(["bundle", "list-heads", file], { cwd: scratch })).split("\n").filter(Boolean);
}

/**
 * Makes the repository at `dir` (which must not exist, or be an empty folder) from a bundle:
 * bare or with a working tree as `shape` says, HEAD on the same branch, and, with a working
 * tree, that branch checked out. `file` null: a repository that had no refs.
 */
export async function restoreBundle(
  file: string | null,
  dir: string,
  shape: Pick<RepoShape, "bare" | "head">,
) {
  fs.mkdirSync(dir, { recursive: true });
  const branch = (shape.head ?? "refs/heads/main").replace(/^refs\/heads\//, "");
  await git(["init", "--quiet", ...(shape.bare ? ["--bare"] : []), `--initial-branch=${branch}`], {
    cwd: dir,
  });
  if (!file) return;
  await git(["fetch", "--quiet", "--update-head-ok", file, "+refs/*:refs/*"], { cwd: dir });
  if (!shape.bare && shape.head) await git(["reset", "--quiet", "--hard", "HEAD"], { cwd: dir });
}
