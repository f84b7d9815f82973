import { quotePath } from "@/schemas/paths";
import { applyHunks, HunkConflict } from "./apply-hunks";
import { blobOid, canonicalMode, type ObjectStore, type TreeEntry, ZERO_OID } from "./objects";
import { type FilePatch, GITLINK_MODE, InvalidPatchError, type PatchOptions } from "./patch-format";
import { entryAt, type PathChange } from "./tree-edit";

// What one file of a patch does to a tree, path by path, computed in process (prepareChanges,
// in apply.ts, gathers them): checked against the tree, its new blob written.

export class ApplyConflict extends Error {
  override name = "ApplyConflict";
  constructor(
    message: string,
    readonly paths: string[],
  ) {
    super(message);
  }
}

/** What only `git apply` can do (binary deltas for blobs we lack, non-UTF-8 text). */
export class NeedsGitApply extends Error {}

const isUtf8 = (buf: Buffer) => Buffer.from(buf.toString("utf8"), "utf8").equals(buf);

/** The object type a tree entry of this mode must point at. */
const typeForMode = (mode: string) => (mode === GITLINK_MODE ? "commit" : "blob");

/**
 * The first directory above `p` that the tree holds as something other than a directory (a
 * symlink, a file, a submodule), unless this patch removes it first.
 */
export async function blockingParent(
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

export const describeMode = (mode: string) =>
  mode === "120000" ? "symlink" : mode === GITLINK_MODE ? "submodule" : "file";

/** Why the object an `index` line names cannot be the new content at the file's mode. */
export async function objectTypeProblem(
  store: ObjectStore,
  f: FilePatch,
): Promise<string | undefined> {
  if (f.newOid?.length !== 40 || f.newOid === ZERO_OID) return undefined;
  const mode = f.newMode ?? "100644";
  const obj = await store.tryRead(f.newOid);
  const want = typeForMode(mode);
  if (obj && obj.type !== want)
    return `has an index line naming ${f.newOid.slice(0, 12)}, a ${obj.type}; mode ${mode} needs a ${want}`;
  return undefined;
}

export async function fileChange(
  store: ObjectStore,
  tree: string | null,
  f: FilePatch,
  removed: Set<string>,
  opts: PatchOptions,
): Promise<Map<string, PathChange>> {
  const changes = new Map<string, PathChange>();
  const old = await checkTarget(store, tree, f, removed);
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
  changes.set(f.newPath, { mode, oid: await newContent(store, f, f.newPath, old) });
  return changes;
}

/**
 * The target tree as the patch expects it: its old file there, with the mode it names, and its
 * new path free (not a file already, not under a file or a link). The old file's entry.
 */
async function checkTarget(
  store: ObjectStore,
  tree: string | null,
  f: FilePatch,
  removed: Set<string>,
): Promise<TreeEntry | null> {
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
  return old;
}

/**
 * The new file's blob: one the repository already holds, or the old content with the hunks
 * applied (NeedsGitApply for what only `git apply` can do: binary or non-UTF-8 content).
 */
async function newContent(
  store: ObjectStore,
  f: FilePatch,
  newPath: string,
  old: TreeEntry | null,
): Promise<string> {
  const oldMatches = !!old && !!f.oldOid && old.oid.startsWith(f.oldOid) && f.oldOid.length === 40;
  // Unchanged content (a rename or a mode change) or a result the repository already holds.
  if (
    f.newOid &&
    f.newOid.length === 40 &&
    (old?.oid === f.newOid || ((oldMatches || !old) && (await store.exists(f.newOid))))
  )
    return f.newOid;
  if (f.binary) throw new NeedsGitApply();
  if (f.hunks.length === 0) return old ? old.oid : store.write("blob", Buffer.alloc(0));
  const before = old ? await store.read(old.oid, "blob") : Buffer.alloc(0);
  if (!isUtf8(before)) throw new NeedsGitApply();
  let after: Buffer;
  try {
    after = Buffer.from(applyHunks(newPath, before.toString("utf8"), f.hunks), "utf8");
  } catch (err) {
    if (err instanceof HunkConflict) throw new ApplyConflict(err.message, [f.oldPath ?? newPath]);
    throw err;
  }
  // With the exact old blob, the result must be the author's blob; anything else is our bug.
  if ((oldMatches || !old) && f.newOid?.length === 40 && blobOid(after) !== f.newOid)
    throw new NeedsGitApply();
  return store.write("blob", after);
}
