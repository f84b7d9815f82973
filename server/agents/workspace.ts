import fs from "node:fs";
import path from "node:path";
import type { RunDir } from "@/server/confine/run";
import { git } from "@/server/git/run";

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

/** Every git Hyperion runs on a workspace: no config but its own, no hooks, no filters. */
const SAFE = [
  "-c",
  "core.hooksPath=/dev/null",
  "-c",
  "core.fsmonitor=false",
  "--literal-pathspecs",
];
const envFor = (ws: { gitDir: string }, index = "index") => ({
  GIT_DIR: ws.gitDir,
  GIT_INDEX_FILE: path.join(ws.gitDir, index),
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_ATTR_NOSYSTEM: "1",
});

/** The target repository's object folder, for the alternates file. */
export async function objectsDirOf(repoPath: string): Promise<string> {
  const common = (await git(["rev-parse", "--git-common-dir"], { cwd: repoPath })).trim();
  return path.resolve(repoPath, common, "objects");
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
  const objects = await objectsDirOf(opts.repoPath);
  await git(["init", "--quiet", "--bare", "--template=", opts.gitDir], { cwd: opts.run.root });
  fs.writeFileSync(path.join(opts.gitDir, "objects", "info", "alternates"), `${objects}\n`);
  const ws = { gitDir: opts.gitDir };
  const env = envFor(ws);
  const dir = opts.run.work;
  // Only the named paths' entries (a folder brings what is under it): ls-tree walks just the
  // trees on their way, whatever the repository's size.
  const listing = opts.paths.length
    ? await git([...SAFE, "ls-tree", "-r", "-z", "--full-tree", opts.base, "--", ...opts.paths], {
        cwd: dir,
        env,
      })
    : "";
  const entries = listing.split("\0").filter(Boolean);
  const indexInfo = entries.map((line) => `${line}\n`).join("");
  if (indexInfo) {
    await git([...SAFE, "update-index", "--add", "--index-info"], {
      cwd: dir,
      env,
      input: indexInfo,
    });
    await git([...SAFE, "--work-tree", dir, "checkout-index", "--all", "--force"], {
      cwd: dir,
      env,
    });
  }
  const sparseTree = (await git([...SAFE, "write-tree"], { cwd: dir, env })).trim();
  return {
    dir,
    gitDir: opts.gitDir,
    base: opts.base,
    sparseTree,
    files: entries.map((l) => l.slice(l.indexOf("\t") + 1)),
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
  const env = envFor(ws);
  // Against the index of the files it was given (there is no HEAD to compare with): what it
  // changed or deleted, then every file it created, wherever it is.
  const changed = await git(
    [...SAFE, "--work-tree", ws.dir, "diff", "--name-only", "-z", "--no-renames", "--no-ext-diff"],
    { cwd: ws.dir, env },
  );
  const created = await git([...SAFE, "--work-tree", ws.dir, "ls-files", "--others", "-z"], {
    cwd: ws.dir,
    env,
  });
  const paths = [...changed.split("\0"), ...created.split("\0")].filter(Boolean);
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
  await git([...SAFE, "--work-tree", ws.dir, "add", "--all", "--", ...unique], {
    cwd: ws.dir,
    env,
  });
  const patch = await git(
    [
      ...SAFE,
      "diff",
      "--cached",
      "--binary",
      "--full-index",
      "--no-ext-diff",
      "--no-textconv",
      "--no-renames",
      ws.sparseTree,
    ],
    { cwd: ws.dir, env },
  );
  const rawOut = await git(
    [...SAFE, "diff", "--cached", "--raw", "-z", "--no-renames", "--no-abbrev", ws.sparseTree],
    { cwd: ws.dir, env },
  );
  const parts = rawOut.split("\0").filter(Boolean);
  const raw: WorkspaceChange["raw"] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    // ":oldmode newmode oldoid newoid status", then the path.
    const [, newMode, , newOid] = (parts[i] ?? "").split(" ");
    raw.push({ mode: newMode ?? "", oid: newOid ?? "", path: parts[i + 1] ?? "" });
  }
  return { paths: unique, outside: [], patch, raw };
}

/**
 * The whole candidate — the base with the agent's change — as a commit in the workspace's git
 * directory (objects borrowed from the target), for the task's checks to run on.
 */
export async function candidateCommit(ws: Workspace, change: WorkspaceChange): Promise<string> {
  const env = envFor(ws, "candidate-index");
  await git([...SAFE, "read-tree", ws.base], { cwd: ws.dir, env });
  const info = change.raw
    .map((r) =>
      r.mode === "000000" ? `0 ${"0".repeat(40)}\t${r.path}\n` : `${r.mode} ${r.oid}\t${r.path}\n`,
    )
    .join("");
  if (info) await git([...SAFE, "update-index", "--index-info"], { cwd: ws.dir, env, input: info });
  const tree = (await git([...SAFE, "write-tree"], { cwd: ws.dir, env })).trim();
  const who = {
    GIT_AUTHOR_NAME: "Hyperion",
    GIT_AUTHOR_EMAIL: "hyperion@localhost",
    GIT_COMMITTER_NAME: "Hyperion",
    GIT_COMMITTER_EMAIL: "hyperion@localhost",
  };
  return (
    await git([...SAFE, "commit-tree", tree, "-p", ws.base, "-m", "candidate"], {
      cwd: ws.dir,
      env: { ...env, ...who },
    })
  ).trim();
}
