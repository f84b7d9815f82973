import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { quotePath, specialGitFile } from "@/schemas/paths";
import { applyHunks, HunkConflict } from "./apply-hunks";
import { blobOid, canonicalMode, type ObjectStore, ZERO_OID } from "./objects";
import {
  FILE_MODES,
  type FilePatch,
  GITLINK_MODE,
  InvalidPatchError,
  type PatchOptions,
} from "./patch-format";
import { GitError, git } from "./run";
import { editTree, entryAt, type PathChange } from "./tree-edit";

export class ApplyConflict extends Error {
  override name = "ApplyConflict";
  constructor(
    message: string,
    readonly paths: string[],
  ) {
    super(message);
  }
}

class NeedsGitApply extends Error {}

const isUtf8 = (buf: Buffer) => Buffer.from(buf.toString("utf8"), "utf8").equals(buf);

/** The object type a tree entry of this mode must point at. */
const typeForMode = (mode: string) => (mode === GITLINK_MODE ? "commit" : "blob");

/** git's limits for .gitattributes (attr.c), which `git fsck --strict` enforces. */
const ATTR_MAX_LINE_BYTES = 2048;
const ATTR_MAX_FILE_BYTES = 100 * 1024 * 1024;

/**
 * The first directory above `p` that the tree holds as something other than a directory (a
 * symlink, a file, a submodule), unless this patch removes it first.
 */
async function blockingParent(
  store: ObjectStore,
  tree: string,
  p: string,
  removed: Set<string>,
): Promise<{ path: string; mode: string } | null> {
  const parts = p.split("/").slice(0, -1);
  let current = tree;
  for (let i = 0; i < parts.length; i++) {
    const entry = (await store.readTree(current)).find((e) => e.name === parts[i]);
    if (!entry) return null;
    const at = parts.slice(0, i + 1).join("/");
    if (entry.mode !== "40000") return removed.has(at) ? null : { path: at, mode: entry.mode };
    current = entry.oid;
  }
  return null;
}

const describeMode = (mode: string) =>
  mode === "120000" ? "symlink" : mode === GITLINK_MODE ? "submodule" : "file";

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

/** Why the object an `index` line names cannot be the new content at the file's mode. */
async function objectTypeProblem(store: ObjectStore, f: FilePatch): Promise<string | undefined> {
  if (f.newOid?.length !== 40 || f.newOid === ZERO_OID) return undefined;
  const mode = f.newMode ?? "100644";
  const obj = await store.tryRead(f.newOid);
  const want = typeForMode(mode);
  if (obj && obj.type !== want)
    return `has an index line naming ${f.newOid.slice(0, 12)}, a ${obj.type}; mode ${mode} needs a ${want}`;
  return undefined;
}

async function fileChange(
  store: ObjectStore,
  tree: string | null,
  f: FilePatch,
  removed: Set<string>,
  opts: PatchOptions,
): Promise<Map<string, PathChange>> {
  const changes = new Map<string, PathChange>();
  const old = f.oldPath && tree ? await entryAt(store, tree, f.oldPath) : null;
  if (f.oldPath && !old) throw new ApplyConflict(`${f.oldPath} does not exist`, [f.oldPath]);
  if (old && old.mode === "40000")
    throw new ApplyConflict(`${f.oldPath} is a directory, not a file`, [f.oldPath ?? ""]);
  if (old && f.oldMode && canonicalMode(old.mode) !== f.oldMode)
    throw new ApplyConflict(
      `${f.oldPath} is mode ${old.mode} in the target tree, not ${f.oldMode} as the patch expects`,
      [f.oldPath ?? ""],
    );
  if (f.newPath && tree) {
    if (
      f.newPath !== f.oldPath &&
      !removed.has(f.newPath) &&
      (await entryAt(store, tree, f.newPath))
    )
      throw new ApplyConflict(`${f.newPath} already exists`, [f.newPath]);
    const parent = await blockingParent(store, tree, f.newPath, removed);
    if (parent)
      throw new ApplyConflict(
        `${f.newPath} goes through ${quotePath(parent.path)}, which is a ${describeMode(parent.mode)} in the target tree`,
        [f.newPath],
      );
  }
  if (f.oldPath && f.newPath && f.oldPath !== f.newPath && !f.copy) changes.set(f.oldPath, null);
  if (!f.newPath) {
    if (
      f.oldPath &&
      old &&
      f.oldOid &&
      !ZERO_OID.startsWith(f.oldOid) &&
      !old.oid.startsWith(f.oldOid)
    ) {
      throw new ApplyConflict(`${f.oldPath} changed since the patch was made`, [f.oldPath]);
    }
    if (f.oldPath) changes.set(f.oldPath, null);
    return changes;
  }
  const mode = f.newMode ?? (old ? canonicalMode(old.mode) : "100644");
  const typeProblem = await objectTypeProblem(store, { ...f, newMode: mode });
  if (typeProblem) throw new InvalidPatchError(`path ${quotePath(f.newPath)} ${typeProblem}`);
  if (mode === GITLINK_MODE) {
    if (!opts.allowSubmodules)
      throw new InvalidPatchError(
        `path ${quotePath(f.newPath)} is a submodule; Hyperion does not support submodules`,
      );
    // A submodule's commit lives in another repository: the index line is the whole change.
    if (f.newOid?.length !== 40 || f.newOid === ZERO_OID)
      throw new InvalidPatchError(
        `path ${quotePath(f.newPath)} is a submodule without a full commit id on its index line`,
      );
    changes.set(f.newPath, { mode, oid: f.newOid });
    return changes;
  }
  if (old && old.mode === GITLINK_MODE)
    throw new InvalidPatchError(
      `path ${quotePath(f.newPath)} is a submodule; it cannot become a ${describeMode(mode)}`,
    );
  const oldMatches = !!old && !!f.oldOid && old.oid.startsWith(f.oldOid) && f.oldOid.length === 40;
  // Unchanged content (a rename or a mode change) or a result the repository already holds.
  if (
    f.newOid &&
    f.newOid.length === 40 &&
    (old?.oid === f.newOid || ((oldMatches || !old) && (await store.exists(f.newOid))))
  ) {
    changes.set(f.newPath, { mode, oid: f.newOid });
    return changes;
  }
  if (f.binary) throw new NeedsGitApply();
  if (f.hunks.length === 0) {
    if (!old) changes.set(f.newPath, { mode, oid: store.write("blob", Buffer.alloc(0)) });
    else changes.set(f.newPath, { mode, oid: old.oid });
    return changes;
  }
  const before = old ? await store.read(old.oid, "blob") : Buffer.alloc(0);
  if (!isUtf8(before)) throw new NeedsGitApply();
  let after: Buffer;
  try {
    after = Buffer.from(applyHunks(f.newPath, before.toString("utf8"), f.hunks), "utf8");
  } catch (err) {
    if (err instanceof HunkConflict) throw new ApplyConflict(err.message, [f.oldPath ?? f.newPath]);
    throw err;
  }
  // With the exact old blob, the result must be the author's blob; anything else is our bug.
  if ((oldMatches || !old) && f.newOid?.length === 40 && blobOid(after) !== f.newOid)
    throw new NeedsGitApply();
  changes.set(f.newPath, { mode, oid: store.write("blob", after) });
  return changes;
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
