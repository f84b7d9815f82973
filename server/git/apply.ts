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
    const all = new Map<string, PathChange>();
    for (const f of files) {
      for (const [p, c] of await fileChange(store, tree, f)) {
        // A rename's source removal must not undo another file's write to the same path.
        if (c === null && all.has(p) && all.get(p) !== null) continue;
        all.set(p, c);
      }
    }
    return (await editTree(store, tree, all)) ?? store.writeTree([]);
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
