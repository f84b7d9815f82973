import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { quotePath, specialGitFile } from "@/schemas/paths";
import {
  ApplyConflict,
  blockingParent,
  describeMode,
  fileChange,
  NeedsGitApply,
  objectTypeProblem,
} from "./file-change";
import type { ObjectStore } from "./objects";
import {
  FILE_MODES,
  type FilePatch,
  GITLINK_MODE,
  InvalidPatchError,
  type PatchOptions,
} from "./patch-format";
import { GitError, git } from "./run";
import { editTree, entryAt, type PathChange } from "./tree-edit";

// What a caller of the apply functions handles: a patch that conflicts with the tree.
export { ApplyConflict } from "./file-change";

/** git's limits for .gitattributes (attr.c), which `git fsck --strict` enforces. */
const ATTR_MAX_LINE_BYTES = 2048;
const ATTR_MAX_FILE_BYTES = 100 * 1024 * 1024;

/** Paths this patch takes away before it writes: deletions and rename sources. */
function removedPaths(files: FilePatch[]): Set<string> {
  return new Set(
    files.flatMap((f) => (f.oldPath && !f.copy && f.oldPath !== f.newPath ? [f.oldPath] : [])),
  );
}

/**
 * What the patch assumes about `tree` that does not hold there, path by path: writing under
 * a symlink or a file, changing a directory as if it were a file, an `index` line naming an
 * object of the wrong type for the mode. Submission reports these; landing refuses them.
 */
export async function patchTreeProblems(
  store: ObjectStore,
  tree: string | null,
  files: FilePatch[],
): Promise<{ path: string; message: string }[]> {
  const problems: { path: string; message: string }[] = [];
  const removed = removedPaths(files);
  for (const f of files) {
    if (f.newPath && tree) {
      const parent = await blockingParent(store, tree, f.newPath, removed);
      if (parent)
        problems.push({
          path: f.newPath,
          message:
            parent.mode === "120000"
              ? `goes through the symlink ${quotePath(parent.path)}`
              : `goes through ${quotePath(parent.path)}, which is a ${describeMode(parent.mode)}`,
        });
    }
    if (f.oldPath && tree) {
      const old = await entryAt(store, tree, f.oldPath);
      if (old?.mode === "40000")
        problems.push({ path: f.oldPath, message: "is a directory, not a file" });
    }
    const typeProblem = f.newPath ? await objectTypeProblem(store, f) : undefined;
    if (typeProblem && f.newPath) problems.push({ path: f.newPath, message: typeProblem });
  }
  return problems;
}

/** Refuses content `git fsck --strict` would flag: .gitattributes lines git cannot parse. */
async function checkSpecialContent(store: ObjectStore, p: string, oid: string): Promise<void> {
  if (specialGitFile(p.split("/").pop() ?? "") !== ".gitattributes") return;
  const content = await store.read(oid, "blob");
  if (content.length > ATTR_MAX_FILE_BYTES)
    throw new InvalidPatchError(
      `path ${quotePath(p)} is ${content.length} bytes; git reads at most ${ATTR_MAX_FILE_BYTES} bytes of .gitattributes`,
    );
  let start = 0;
  for (let line = 1; start < content.length; line++) {
    const nl = content.indexOf(10, start);
    const end = nl < 0 ? content.length : nl;
    if (end - start >= ATTR_MAX_LINE_BYTES)
      throw new InvalidPatchError(
        `path ${quotePath(p)} line ${line} is ${end - start} bytes; git ignores .gitattributes lines of ${ATTR_MAX_LINE_BYTES} bytes or more`,
      );
    start = end + 1;
  }
}

export type Prepared = {
  /** What each touched path becomes (null: removed). */
  changes: Map<string, PathChange>;
  /** What each touched path was in the tree the changes were computed on (null: absent). */
  expected: Map<string, string | null>;
};

/**
 * Computes a parsed patch's effect on `tree` path by path, writing the new blobs. The result
 * can be laid onto any tree whose touched paths still hold the `expected` objects — so a
 * change prepared against one tip lands on a newer one without redoing the work.
 */
export async function prepareChanges(
  store: ObjectStore,
  tree: string | null,
  files: FilePatch[],
  opts: PatchOptions = {},
): Promise<Prepared> {
  const changes = new Map<string, PathChange>();
  const expected = new Map<string, string | null>();
  const removed = removedPaths(files);
  for (const f of files) {
    for (const p of [f.oldPath, f.newPath]) {
      if (p && !expected.has(p))
        expected.set(p, tree ? ((await entryAt(store, tree, p))?.oid ?? null) : null);
    }
    for (const [p, c] of await fileChange(store, tree, f, removed, opts)) {
      // A rename's source removal must not undo another file's write to the same path.
      if (c === null && changes.has(p) && changes.get(p) !== null) continue;
      changes.set(p, c);
    }
  }
  for (const [p, c] of changes) if (c) await checkSpecialContent(store, p, c.oid);
  return { changes, expected };
}

/**
 * True when `tree` still holds at every touched path what the changes were computed on, and
 * no directory above a written path has since become a symlink or a file.
 */
export async function stillApplies(
  store: ObjectStore,
  tree: string | null,
  prepared: Prepared,
): Promise<boolean> {
  if (!tree) return [...prepared.expected.values()].every((oid) => oid === null);
  for (const [p, oid] of prepared.expected) {
    if (((await entryAt(store, tree, p))?.oid ?? null) !== oid) return false;
  }
  const removed = new Set([...prepared.changes].flatMap(([p, c]) => (c ? [] : [p])));
  for (const [p, c] of prepared.changes) {
    if (c && (await blockingParent(store, tree, p, removed))) return false;
  }
  return true;
}

export async function layChanges(
  store: ObjectStore,
  tree: string | null,
  prepared: Prepared,
): Promise<string> {
  return (await editTree(store, tree, prepared.changes)) ?? store.writeTree([]);
}

/**
 * The tree that results from applying a parsed patch to `tree`, written in-process along the
 * changed paths. What this does not handle (binary deltas for blobs we lack, non-UTF-8 text)
 * goes through `git apply --cached` on a private index.
 */
export async function applyPatchToTree(
  store: ObjectStore,
  tree: string | null,
  files: FilePatch[],
  patchText: string,
  opts: PatchOptions = {},
): Promise<string> {
  try {
    return await layChanges(store, tree, await prepareChanges(store, tree, files, opts));
  } catch (err) {
    if (!(err instanceof NeedsGitApply)) throw err;
  }
  const result = await gitApplyCached(store.repoPath, tree, patchText);
  await checkGitApplyResult(store, tree, result, files, opts);
  return result;
}

/**
 * Git's reading of the patch must be ours: the tree it wrote may differ from the old one only
 * at the paths we checked, with the modes and contents we allow.
 */
async function checkGitApplyResult(
  store: ObjectStore,
  tree: string | null,
  result: string,
  files: FilePatch[],
  opts: PatchOptions,
): Promise<void> {
  const allowed = new Set(files.flatMap((f) => [f.oldPath, f.newPath].filter((p) => p !== null)));
  const modes = new Set<string>([...FILE_MODES, ...(opts.allowSubmodules ? [GITLINK_MODE] : [])]);
  const out = await git(["diff-tree", "-r", "-z", "--no-renames", tree ?? EMPTY_TREE, result], {
    cwd: store.repoPath,
  });
  const fields = out.split("\0");
  for (let k = 0; k + 1 < fields.length; k += 2) {
    const [, newMode = ""] = (fields[k] ?? "").replace(/^:/, "").split(" ");
    const p = fields[k + 1] ?? "";
    if (!allowed.has(p))
      throw new InvalidPatchError(
        `git apply changed ${quotePath(p)}, which the patch does not name`,
      );
    if (newMode === "000000") continue;
    if (!modes.has(newMode))
      throw new InvalidPatchError(
        `git apply gave ${quotePath(p)} mode ${newMode}, which is not allowed`,
      );
    const entry = await entryAt(store, result, p);
    if (entry) await checkSpecialContent(store, p, entry.oid);
  }
}

const EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

async function gitApplyCached(
  repoPath: string,
  tree: string | null,
  patch: string,
): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hyperion-index-"));
  const env = { GIT_INDEX_FILE: path.join(dir, "index") };
  try {
    if (tree) await git(["read-tree", tree], { cwd: repoPath, env });
    else await git(["read-tree", "--empty"], { cwd: repoPath, env });
    try {
      await git(["apply", "--cached", "--binary", "--whitespace=nowarn", "-"], {
        cwd: repoPath,
        env,
        input: patch,
      });
    } catch (err) {
      if (err instanceof GitError) {
        const paths = [
          ...err.stderr.matchAll(
            /(?:patch failed|does not exist in index|already exists in index): ([^:\n]+)/g,
          ),
        ].map((m) => m[1] ?? "");
        throw new ApplyConflict(`git apply: ${err.stderr.trim().split("\n")[0] ?? ""}`, paths);
      }
      throw err;
    }
    const out = (await git(["write-tree"], { cwd: repoPath, env })).trim();
    return out;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
