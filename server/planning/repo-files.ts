import { Repo } from "@/server/git/repo";

export type RepoFile = { path: string; size: number };

/** Every file on a branch with its size, read from the tree (no checkout). */
export async function listRepoFiles(repoPath: string, branch: string): Promise<RepoFile[]> {
  const entries = await Repo.at(repoPath).listTreeWithSizes(`refs/heads/${branch}`);
  return entries.map((e) => ({ path: e.path, size: e.size }));
}
