import { git } from "@/server/git/run";

export type RepoFile = { path: string; size: number };

/** Every file on a branch with its size, read from the tree (no checkout). */
export async function listRepoFiles(repoPath: string, branch: string): Promise<RepoFile[]> {
  const out = await git(["ls-tree", "-r", "-l", "-z", "--full-tree", `refs/heads/${branch}`], {
    cwd: repoPath,
  });
  return out
    .split("\0")
    .filter(Boolean)
    .map((line) => {
      const tab = line.indexOf("\t");
      const size = Number(line.slice(0, tab).trim().split(/\s+/)[3]);
      return { path: line.slice(tab + 1), size: Number.isFinite(size) ? size : 0 };
    });
}
