import fs from "node:fs";
import path from "node:path";
import type { RunDir } from "@/server/confine/run";
import { Repo } from "@/server/git/repo";
import { WorkspaceGit } from "@/server/git/workspace";

/**
 * An agent's workspace: the task's files (and the policy's context paths) as they are at the
 * base commit, in the run's folder — nothing else of the repository. Hyperion keeps its own git
 * directory for it *outside* the run folder, borrowing the target's objects read-only through
 * `objects/info/alternates`, so:
 *  - setup costs the few files the task needs, not the repository's size (no full checkout, no
 *    index of every path, no worktree registered in the target);
 *  - the agent never sees a git directory of Hyperion's, and cannot write to the target's;
 *  - nothing the agent writes (a .gitattributes, a config) can make Hyperion's own git run a
 *    command: the git directory, its config and its hooks are out of the agent's reach.
 */
export type Workspace = {
  dir: string;
  /** Hyperion's git directory for the workspace (not in the run folder). */
  gitDir: string;
  base: string;
  /** The tree of the files written into the workspace: what the agent's edits are diffed against. */
  sparseTree: string;
  files: string[];
};

/** The target repository's object folder, for the alternates file. */
export async function objectsDirOf(repoPath: string): Promise<string> {
  return Repo.at(repoPath).objectsDir();
}

export async function createWorkspace(opts: {
  repoPath: string;
  base: string;
  /** Paths in the repository: the task's files and the policy's context. Missing ones are fine (new files). */
  paths: string[];
  run: RunDir;
  /** Where Hyperion's git directory for it goes; outside the run folder. */
  gitDir: string;
}): Promise<Workspace> {
  const dir = opts.run.work;
  const wsGit = await WorkspaceGit.create({
    gitDir: opts.gitDir,
    workTree: dir,
    objectsDir: await objectsDirOf(opts.repoPath),
    cwd: opts.run.root,
  });
  // Only the named paths' entries (a folder brings what is under it).
  const entries = opts.paths.length ? await wsGit.lsTree(opts.base, opts.paths) : [];
  if (entries.length) {
    await wsGit.addToIndex(entries);
    await wsGit.checkoutIndex();
  }
  const sparseTree = await wsGit.writeTree();
  return {
    dir,
    gitDir: opts.gitDir,
    base: opts.base,
    sparseTree,
    files: entries.map((e) => e.path),
  };
}

export type WorkspaceChange = {
  /** Paths the agent added, changed or deleted, against the base. */
  paths: string[];
  /** Of those, the ones outside what the task may change. */
  outside: string[];
  /** `git diff --binary --full-index` against the base: the change request's patch. */
  patch: string;
  /** `:mode mode oid oid status` entries, for building the candidate commit. */
  raw: { mode: string; oid: string; path: string }[];
};

/**
 * What the agent changed: every path that differs from the files it was given, including new
 * files anywhere. Only the allowed paths are staged; one outside them is reported by name, and
 * nothing of it is read into git.
 */
export async function collectChange(
  ws: Workspace,
  allowed: (p: string) => boolean,
  limits: { maxFileBytes: number },
): Promise<WorkspaceChange | { problem: string }> {
  if (!fs.existsSync(ws.dir)) return { problem: "the workspace was deleted" };
  const wsGit = new WorkspaceGit(ws.gitDir, ws.dir);
  // Against the index of the files it was given (there is no HEAD to compare with): what it
  // changed or deleted, then every file it created, wherever it is.
  const paths = [...(await wsGit.changedPaths()), ...(await wsGit.untrackedPaths())];
  const unique = [...new Set(paths)].sort();
  const outside = unique.filter((p) => !allowed(p));
  if (outside.length) return { paths: unique, outside, patch: "", raw: [] };
  for (const p of unique) {
    const st = fs.lstatSync(path.join(ws.dir, p), { throwIfNoEntry: false });
    if (st?.isFile() && st.size > limits.maxFileBytes)
      return {
        problem: `${p} is ${st.size} bytes; the limit for one file of a change is ${limits.maxFileBytes}`,
      };
    if (st && !st.isFile() && !st.isSymbolicLink())
      return { problem: `${p} is not a regular file or a symbolic link` };
    // A link the repository can hold stays inside it: one that points out (absolute, or
    // climbing above the top) would hand whoever checks the branch out a path elsewhere.
    if (st?.isSymbolicLink()) {
      const target = fs.readlinkSync(path.join(ws.dir, p));
      const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(p), target));
      if (path.posix.isAbsolute(target) || resolved === ".." || resolved.startsWith("../"))
        return { problem: `${p} is a symbolic link out of the repository (to ${target})` };
    }
  }
  if (unique.length === 0) return { paths: [], outside: [], patch: "", raw: [] };
  await wsGit.add(unique);
  const patch = await wsGit.stagedPatch(ws.sparseTree);
  const raw = await wsGit.stagedEntries(ws.sparseTree);
  return { paths: unique, outside: [], patch, raw };
}

/**
 * The whole candidate — the base with the agent's change — as a commit in the workspace's git
 * directory (objects borrowed from the target), for the task's checks to run on.
 */
export async function candidateCommit(ws: Workspace, change: WorkspaceChange): Promise<string> {
  const wsGit = new WorkspaceGit(ws.gitDir, ws.dir).withIndex("candidate-index");
  await wsGit.readTree(ws.base);
  if (change.raw.length)
    await wsGit.setInIndex(
      change.raw.map((r) => (r.mode === "000000" ? { path: r.path, deleted: true } : r)),
    );
  const tree = await wsGit.writeTree();
  return wsGit.commitTree(tree, ws.base, "candidate");
}
