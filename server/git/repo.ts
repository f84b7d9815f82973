import path from "node:path";
import { GitError, git, gitBytes } from "./run";

/** `git merge-tree --write-tree` found conflicts: the paths it names. */
export class MergeConflictError extends Error {
  override name = "MergeConflictError";
  constructor(readonly paths: string[]) {
    super(`the merge conflicts in ${paths.length} path(s)`);
  }
}

/** An entry of `git ls-tree -l`: with its size (0 for a tree or a submodule). */
export type SizedTreeEntry = {
  mode: string;
  type: string;
  oid: string;
  size: number;
  path: string;
};

export type Signature = { name: string; email: string };

/**
 * A repository as Hyperion drives it: every git command on it is a method here, with its
 * arguments fixed, its output parsed and its exit codes turned into answers or typed errors.
 * One is reached either from a folder inside it (`Repo.at`, git run there, finding its git
 * directory as usual) or by its git directory alone (`Repo.ofGitDir`, `--git-dir` from `/`,
 * so no folder's own `.git` can stand in for it).
 */
export class Repo {
  private constructor(
    private readonly cwd: string,
    private readonly prefix: readonly string[],
  ) {}

  static at(folder: string): Repo {
    return new Repo(folder, []);
  }

  static ofGitDir(gitDir: string): Repo {
    return new Repo("/", ["--git-dir", gitDir]);
  }

  /** Creates a non-bare repository in `folder`, its first branch named `initialBranch`. */
  static async init(folder: string, initialBranch: string): Promise<Repo> {
    await git(["init", "--quiet", `--initial-branch=${initialBranch}`], { cwd: folder });
    return Repo.at(folder);
  }

  private run(
    args: readonly string[],
    opts: { env?: Record<string, string>; input?: string } = {},
  ): Promise<string> {
    return git([...this.prefix, ...args], { cwd: this.cwd, ...opts });
  }

  /** The git directory, absolute. */
  async absoluteGitDir(): Promise<string> {
    return (await this.run(["rev-parse", "--absolute-git-dir"])).trim();
  }

  /** The object folder shared by all worktrees of the repository (its common git directory's). */
  async objectsDir(): Promise<string> {
    const common = (await this.run(["rev-parse", "--git-common-dir"])).trim();
    return path.resolve(this.cwd, common, "objects");
  }

  /** The commit `rev` names (`rev-parse --verify rev^{commit}`); a GitError when it names none. */
  async resolveCommit(rev: string): Promise<string> {
    return (await this.run(["rev-parse", "--verify", `${rev}^{commit}`])).trim();
  }

  /** The commit `rev` names, or null when it names none (or git fails at all). */
  async findCommit(rev: string): Promise<string | null> {
    const out = await this.run(["rev-parse", "--verify", "--quiet", `${rev}^{commit}`]).catch(
      () => "",
    );
    return out.trim() || null;
  }

  /** Every blob, link and submodule under `rev`'s whole tree, with sizes (`ls-tree -r -l`). */
  async listTreeWithSizes(rev: string): Promise<SizedTreeEntry[]> {
    const out = await this.run(["ls-tree", "-r", "-l", "-z", "--full-tree", rev]);
    return out
      .split("\0")
      .filter(Boolean)
      .map((line) => {
        const tab = line.indexOf("\t");
        const [mode = "", type = "", oid = "", size = ""] = line.slice(0, tab).trim().split(/\s+/);
        const n = Number(size);
        return { mode, type, oid, size: Number.isFinite(n) ? n : 0, path: line.slice(tab + 1) };
      });
  }

  /**
   * Which of `paths` the tree of `commit` lacks, in the order given (`cat-file --batch-check`,
   * one git for them all). A path is there when it names a file, a link or a folder; a path
   * through a link is not followed, so it is missing. `commit` is a full object id, so the
   * `commit:path` names git reads are never taken for anything else.
   */
  async missingPaths(commit: string, paths: readonly string[]): Promise<string[]> {
    if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(commit))
      throw new Error(`missingPaths takes a full commit id, not '${commit}'`);
    if (paths.length === 0) return [];
    // A line break would end the name early; the request's path rule refuses them anyway.
    const bad = paths.find((p) => /[\n\r\0]/.test(p));
    if (bad !== undefined) throw new Error(`a path with a line break cannot be looked up`);
    const out = await this.run(["cat-file", "--batch-check=%(objecttype)"], {
      input: paths.map((p) => `${commit}:${p}\n`).join(""),
    });
    const lines = out.split("\n");
    return paths.filter((_, i) => !/^(blob|tree|commit)$/.test(lines[i] ?? ""));
  }

  /**
   * The file at `filePath` in `rev`'s tree: its blob id and size (`ls-tree -l`), or null when
   * there is none or it is not a regular file. Its bytes are read apart (readBlob), so a caller
   * can refuse a file by its size before reading it.
   */
  async fileAt(rev: string, filePath: string): Promise<{ oid: string; size: number } | null> {
    if (/[\n\r\0]/.test(filePath)) throw new Error("a path with a line break cannot be looked up");
    const out = await this.run(["ls-tree", "-l", "-z", rev, "--", filePath]);
    const line = out.split("\0").find(Boolean);
    if (!line) return null;
    const tab = line.indexOf("\t");
    const [mode = "", type = "", oid = "", size = ""] = line.slice(0, tab).trim().split(/\s+/);
    if (type !== "blob" || !/^100(644|755)$/.test(mode) || line.slice(tab + 1) !== filePath)
      return null;
    return { oid, size: Number(size) };
  }

  /** The unified diff of one file between two commits (`diff --no-color from to -- path`). */
  async diffFile(from: string, to: string, filePath: string): Promise<string> {
    for (const c of [from, to])
      if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(c))
        throw new Error(`diffFile takes full commit ids, not '${c}'`);
    return this.run([
      "diff",
      "--no-color",
      "--no-ext-diff",
      "--no-renames",
      from,
      to,
      "--",
      filePath,
    ]);
  }

  /** A blob's bytes, exactly as stored (`cat-file blob`). */
  async readBlob(oid: string): Promise<Buffer> {
    if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(oid))
      throw new Error(`readBlob takes a full object id, not '${oid}'`);
    return gitBytes([...this.prefix, "cat-file", "blob", oid], { cwd: this.cwd });
  }

  /** The raw text of a commit object (`cat-file commit`). */
  async readCommit(commit: string): Promise<string> {
    return this.run(["cat-file", "commit", commit]);
  }

  /** The message of the commit `rev` names (`log -1 --format=%B`). */
  async commitMessage(rev: string): Promise<string> {
    return this.run(["log", "-1", "--format=%B", `${rev}^{commit}`, "--"]);
  }

  /**
   * Whether `older` is an ancestor of (or is) `newer`. Any failure of git — exit 1 for "no", or
   * a commit it does not have — is a no.
   */
  async isAncestor(older: string, newer: string): Promise<boolean> {
    try {
      await this.run(["merge-base", "--is-ancestor", older, newer]);
      return true;
    } catch (err) {
      if (err instanceof GitError) return false;
      throw err;
    }
  }

  /** The first-parent commits after `from` up to `to`, oldest first. */
  async firstParentsBetween(from: string, to: string): Promise<string[]> {
    const out = await this.run(["rev-list", "--first-parent", "--reverse", `${from}..${to}`]);
    return out.split("\n").filter(Boolean);
  }

  /** The paths that differ between two commits' trees (renames as a delete and an add). */
  async changedPaths(from: string, to: string): Promise<string[]> {
    const out = await this.run(["diff", "--name-only", "--no-renames", "-z", from, to]);
    return out.split("\0").filter(Boolean);
  }

  /** `git diff --binary --full-index from to`: a patch `git apply` takes whole, binaries included. */
  async binaryDiff(from: string, to: string): Promise<string> {
    return this.run(["diff", "--binary", "--full-index", from, to]);
  }

  /**
   * Merges two commits without a worktree (`merge-tree --write-tree`) and returns the merged
   * tree. Conflicts (git's exit code 1) throw MergeConflictError with the conflicted paths.
   */
  async mergeTree(ours: string, theirs: string): Promise<string> {
    let out: string;
    try {
      out = await this.run([
        "merge-tree",
        "--write-tree",
        "--name-only",
        "--no-messages",
        ours,
        theirs,
      ]);
    } catch (err) {
      if (err instanceof GitError && err.exitCode === 1) {
        const [, ...paths] = err.stdoutText.trim().split("\n");
        throw new MergeConflictError(paths.filter(Boolean));
      }
      throw err;
    }
    return out.trim().split("\n")[0] ?? "";
  }

  // The working tree (a repository reached with Repo.at its top folder).

  /** Refreshes the index's stat data (`update-index -q --refresh`); a failure is ignored. */
  async refreshIndex(): Promise<void> {
    await this.run(["update-index", "-q", "--refresh"]).catch(() => "");
  }

  /**
   * Whether the working tree and index match `rev` (`diff-index --quiet rev --`). Any failure
   * of git counts as a difference.
   */
  async worktreeMatches(rev: string): Promise<boolean> {
    return this.run(["diff-index", "--quiet", rev, "--"]).then(
      () => true,
      () => false,
    );
  }

  /** Moves the index and working tree from one commit to another (`read-tree -m -u`). */
  async moveWorktree(from: string, to: string): Promise<void> {
    await this.run(["read-tree", "-m", "-u", from, to]);
  }

  /** Stages every file of the working tree (`add --all`). */
  async addAll(): Promise<void> {
    await this.run(["add", "--all"]);
  }

  /** Commits the index as `who` (author and committer), unsigned. */
  async commit(message: string, who: Signature): Promise<void> {
    await this.run(["commit", "--quiet", "--no-gpg-sign", "-m", message], {
      env: {
        GIT_AUTHOR_NAME: who.name,
        GIT_AUTHOR_EMAIL: who.email,
        GIT_COMMITTER_NAME: who.name,
        GIT_COMMITTER_EMAIL: who.email,
      },
    });
  }
}
