import fs from "node:fs";
import path from "node:path";
import { ZERO_OID } from "./objects";
import { git } from "./run";

/** Every git Hyperion runs on a workspace: no config but its own, no hooks, no filters. */
const SAFE = [
  "-c",
  "core.hooksPath=/dev/null",
  "-c",
  "core.fsmonitor=false",
  "--literal-pathspecs",
];

/** An `ls-tree` entry: what `update-index --index-info` takes back. */
export type IndexEntry = { mode: string; type: string; oid: string; path: string };
/** A path as it is after a change: its new mode and blob, or deleted. */
export type PathState = { path: string } & ({ mode: string; oid: string } | { deleted: true });

const HYPERION = { name: "Hyperion", email: "hyperion@localhost" };

/**
 * A git directory of Hyperion's own for a folder of files it does not trust (an agent's
 * workspace): bare, out of that folder's reach, its objects borrowed read-only from a
 * repository through `objects/info/alternates`. Every command names the git directory, the
 * index and the config explicitly (GIT_DIR, GIT_INDEX_FILE, no global config or system
 * attributes, no hooks, no fsmonitor, literal pathspecs), so nothing written into the folder
 * — a .gitattributes, a config — can make it run a program or look elsewhere.
 */
export class WorkspaceGit {
  constructor(
    readonly gitDir: string,
    /** The folder of files: the work tree, and where git runs. */
    readonly workTree: string,
    /** The index file's name in the git directory. */
    readonly index = "index",
  ) {}

  /** Creates the bare git directory (run from `cwd`) and points it at `objectsDir` for objects. */
  static async create(opts: {
    gitDir: string;
    workTree: string;
    objectsDir: string;
    cwd: string;
  }): Promise<WorkspaceGit> {
    await git(["init", "--quiet", "--bare", "--template=", opts.gitDir], { cwd: opts.cwd });
    fs.writeFileSync(
      path.join(opts.gitDir, "objects", "info", "alternates"),
      `${opts.objectsDir}\n`,
    );
    return new WorkspaceGit(opts.gitDir, opts.workTree);
  }

  /** The same git directory and files with another index. */
  withIndex(index: string): WorkspaceGit {
    return new WorkspaceGit(this.gitDir, this.workTree, index);
  }

  private run(
    args: readonly string[],
    opts: { workTree?: boolean; input?: string; env?: Record<string, string> } = {},
  ): Promise<string> {
    return git([...SAFE, ...(opts.workTree ? ["--work-tree", this.workTree] : []), ...args], {
      cwd: this.workTree,
      input: opts.input,
      env: {
        GIT_DIR: this.gitDir,
        GIT_INDEX_FILE: path.join(this.gitDir, this.index),
        GIT_CONFIG_GLOBAL: "/dev/null",
        GIT_ATTR_NOSYSTEM: "1",
        ...opts.env,
      },
    });
  }

  /**
   * The entries at `paths` in `rev`'s tree (a folder brings what is under it): ls-tree walks
   * only the trees on their way, whatever the repository's size.
   */
  async lsTree(rev: string, paths: readonly string[]): Promise<IndexEntry[]> {
    const out = await this.run(["ls-tree", "-r", "-z", "--full-tree", rev, "--", ...paths]);
    return out
      .split("\0")
      .filter(Boolean)
      .map((line) => {
        const tab = line.indexOf("\t");
        const [mode = "", type = "", oid = ""] = line.slice(0, tab).split(" ");
        return { mode, type, oid, path: line.slice(tab + 1) };
      });
  }

  /** Adds ls-tree entries to the index (`update-index --add --index-info`). */
  async addToIndex(entries: readonly IndexEntry[]): Promise<void> {
    const info = entries.map((e) => `${e.mode} ${e.type} ${e.oid}\t${e.path}\n`).join("");
    await this.run(["update-index", "--add", "--index-info"], { input: info });
  }

  /** Sets paths in the index to a mode and blob, or removes them (`update-index --index-info`). */
  async setInIndex(states: readonly PathState[]): Promise<void> {
    const info = states
      .map((s) =>
        "deleted" in s ? `0 ${ZERO_OID}\t${s.path}\n` : `${s.mode} ${s.oid}\t${s.path}\n`,
      )
      .join("");
    await this.run(["update-index", "--index-info"], { input: info });
  }

  /** Writes every file of the index into the work tree (`checkout-index --all --force`). */
  async checkoutIndex(): Promise<void> {
    await this.run(["checkout-index", "--all", "--force"], { workTree: true });
  }

  /** Replaces the index with `rev`'s tree (`read-tree`). */
  async readTree(rev: string): Promise<void> {
    await this.run(["read-tree", rev]);
  }

  /** Writes the index as a tree and returns its id. */
  async writeTree(): Promise<string> {
    return (await this.run(["write-tree"])).trim();
  }

  /** Paths of the work tree that differ from the index: changed or deleted. */
  async changedPaths(): Promise<string[]> {
    const out = await this.run(["diff", "--name-only", "-z", "--no-renames", "--no-ext-diff"], {
      workTree: true,
    });
    return out.split("\0").filter(Boolean);
  }

  /** Files of the work tree the index does not have (`ls-files --others`), ignore rules or not. */
  async untrackedPaths(): Promise<string[]> {
    const out = await this.run(["ls-files", "--others", "-z"], { workTree: true });
    return out.split("\0").filter(Boolean);
  }

  /** Stages these paths as they are in the work tree (`add --all -- paths`). */
  async add(paths: readonly string[]): Promise<void> {
    await this.run(["add", "--all", "--", ...paths], { workTree: true });
  }

  /**
   * The index against `tree` as a patch `git apply` takes whole: binaries included, full object
   * ids, no external diff or text conversion, no rename detection.
   */
  async stagedPatch(tree: string): Promise<string> {
    return this.run([
      "diff",
      "--cached",
      "--binary",
      "--full-index",
      "--no-ext-diff",
      "--no-textconv",
      "--no-renames",
      tree,
    ]);
  }

  /** The index against `tree`: each path's new mode and blob (`diff --cached --raw`). */
  async stagedEntries(tree: string): Promise<{ mode: string; oid: string; path: string }[]> {
    const out = await this.run([
      "diff",
      "--cached",
      "--raw",
      "-z",
      "--no-renames",
      "--no-abbrev",
      tree,
    ]);
    const parts = out.split("\0").filter(Boolean);
    const entries: { mode: string; oid: string; path: string }[] = [];
    for (let i = 0; i + 1 < parts.length; i += 2) {
      // ":oldmode newmode oldoid newoid status", then the path.
      const [, mode, , oid] = (parts[i] ?? "").split(" ");
      entries.push({ mode: mode ?? "", oid: oid ?? "", path: parts[i + 1] ?? "" });
    }
    return entries;
  }

  /** A commit of `tree` on `parent` by Hyperion, written into the git directory. */
  async commitTree(tree: string, parent: string, message: string): Promise<string> {
    const env = {
      GIT_AUTHOR_NAME: HYPERION.name,
      GIT_AUTHOR_EMAIL: HYPERION.email,
      GIT_COMMITTER_NAME: HYPERION.name,
      GIT_COMMITTER_EMAIL: HYPERION.email,
    };
    return (await this.run(["commit-tree", tree, "-p", parent, "-m", message], { env })).trim();
  }
}
