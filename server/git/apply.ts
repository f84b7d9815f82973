import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { blobOid, type ObjectStore, ZERO_OID } from "./objects";
import { applyHunks, type FilePatch, HunkConflict } from "./patch";
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

async function fileChange(
  store: ObjectStore,
  tree: string | null,
  f: FilePatch,
): Promise<Map<string, PathChange>> {
  const changes = new Map<string, PathChange>();
  const old = f.oldPath && tree ? await entryAt(store, tree, f.oldPath) : null;
  if (f.oldPath && !old) throw new ApplyConflict(`${f.oldPath} does not exist`, [f.oldPath]);
  if (!f.oldPath && f.newPath && tree && (await entryAt(store, tree, f.newPath))) {
    throw new ApplyConflict(`${f.newPath} already exists`, [f.newPath]);
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
  const mode = f.newMode ?? old?.mode ?? "100644";
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
): Promise<Prepared> {
  const changes = new Map<string, PathChange>();
  const expected = new Map<string, string | null>();
  for (const f of files) {
    for (const p of [f.oldPath, f.newPath]) {
      if (p && !expected.has(p))
        expected.set(p, tree ? ((await entryAt(store, tree, p))?.oid ?? null) : null);
    }
    for (const [p, c] of await fileChange(store, tree, f)) {
      // A rename's source removal must not undo another file's write to the same path.
      if (c === null && changes.has(p) && changes.get(p) !== null) continue;
      changes.set(p, c);
    }
  }
  return { changes, expected };
}

/** True when `tree` still holds at every touched path what the changes were computed on. */
export async function stillApplies(
  store: ObjectStore,
  tree: string | null,
  prepared: Prepared,
): Promise<boolean> {
  for (const [p, oid] of prepared.expected) {
    const now = tree ? ((await entryAt(store, tree, p))?.oid ?? null) : null;
    if (now !== oid) return false;
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
): Promise<string> {
  try {
    return await layChanges(store, tree, await prepareChanges(store, tree, files));
  } catch (err) {
    if (err instanceof NeedsGitApply) return gitApplyCached(store.repoPath, tree, patchText);
    throw err;
  }
}

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
