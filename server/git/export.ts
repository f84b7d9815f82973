import fs from "node:fs";
import path from "node:path";
import { git } from "./run";

/**
 * Writes the files of `commit` into `dir` without touching the repository: a private index in
 * `indexDir` and `checkout-index`, so no worktree is registered in the repository's git
 * directory and the copy holds no `.git` that leads back to it.
 */
export async function exportCommit(
  gitDir: string,
  commit: string,
  dir: string,
  indexDir: string,
): Promise<void> {
  // The tree is the patch author's: no global or system config or attributes, so no filter
  // driver (git-lfs, say) that a committed .gitattributes could name is ever run for it.
  const env = {
    GIT_INDEX_FILE: path.join(indexDir, "export-index"),
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_ATTR_NOSYSTEM: "1",
  };
  try {
    await git(["--git-dir", gitDir, "read-tree", commit], { cwd: dir, env });
    await git(["--git-dir", gitDir, "--work-tree", dir, "checkout-index", "--all", "--force"], {
      cwd: dir,
      env,
    });
  } finally {
    fs.rmSync(env.GIT_INDEX_FILE, { force: true });
  }
}
