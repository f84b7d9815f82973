import fs from "node:fs";
import path from "node:path";
import { refNameProblem } from "@/schemas/branch";
import { quotePath } from "@/schemas/paths";

/**
 * Reading and compare-and-swapping refs in-process with git's own files-backend protocol
 * (`<ref>.lock` created exclusively, value checked, lock renamed into place), so landing a
 * change spawns no process. Concurrent git commands honour the same locks.
 */
/** The tip moved (or another writer holds the lock): rebuild on the new tip and try again. */
export class RefMovedError extends Error {
  override name = "RefMovedError";
}

/** A ref name that is not one: refused before it becomes a file path under the git directory. */
export class RefNameError extends Error {
  override name = "RefNameError";
}

function checkRefName(ref: string): void {
  const problem = refNameProblem(ref);
  if (problem || !ref.startsWith("refs/"))
    throw new RefNameError(
      `${quotePath(ref)} is not a valid ref name: ${problem ?? "must start with 'refs/'"}`,
    );
}

const packedCache = new Map<string, { mtimeMs: number; refs: Map<string, string> }>();

function packedRefs(gitDir: string): Map<string, string> {
  const file = path.join(gitDir, "packed-refs");
  const stat = fs.statSync(file, { throwIfNoEntry: false });
  if (!stat) return new Map();
  const hit = packedCache.get(file);
  if (hit && hit.mtimeMs === stat.mtimeMs) return hit.refs;
  const refs = new Map<string, string>();
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const m = /^([0-9a-f]{40}) (.+)$/.exec(line);
    if (m?.[1] && m[2]) refs.set(m[2], m[1]);
  }
  packedCache.set(file, { mtimeMs: stat.mtimeMs, refs });
  return refs;
}

export function readRefFs(gitDir: string, ref: string, depth = 0): string | null {
  if (depth > 5) return null;
  checkRefName(ref);
  let text: string | null = null;
  try {
    text = fs.readFileSync(path.join(gitDir, ref), "utf8").trim();
  } catch {
    text = null;
  }
  if (text === null) return packedRefs(gitDir).get(ref) ?? null;
  if (text.startsWith("ref: ")) return readRefFs(gitDir, text.slice(5).trim(), depth + 1);
  return /^[0-9a-f]{40}$/.test(text) ? text : null;
}

/** The branch HEAD points at, for a non-bare repository's checked-out branch. */
export function headTarget(gitDir: string): string | null {
  try {
    const text = fs.readFileSync(path.join(gitDir, "HEAD"), "utf8").trim();
    return text.startsWith("ref: ") ? text.slice(5).trim() : null;
  } catch {
    return null;
  }
}

function lock(gitDir: string, ref: string): { fd: number; lockPath: string; refPath: string } {
  checkRefName(ref);
  const refPath = path.join(gitDir, ref);
  const lockPath = `${refPath}.lock`;
  fs.mkdirSync(path.dirname(refPath), { recursive: true });
  try {
    return { fd: fs.openSync(lockPath, "wx"), lockPath, refPath };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST")
      throw new RefMovedError(`${ref} is locked by another writer`);
    throw err;
  }
}

/** Sets `ref` to `newOid` only if it is `oldOid` now (null: only if it does not exist). */
export function casRefFs(gitDir: string, ref: string, newOid: string, oldOid: string | null): void {
  const l = lock(gitDir, ref);
  try {
    const current = readRefFs(gitDir, ref);
    if (current !== oldOid)
      throw new RefMovedError(
        `${ref} is at ${current ?? "nothing"} but expected ${oldOid ?? "nothing"}`,
      );
    fs.writeSync(l.fd, `${newOid}\n`);
    fs.closeSync(l.fd);
    fs.renameSync(l.lockPath, l.refPath);
  } catch (err) {
    try {
      fs.closeSync(l.fd);
    } catch {}
    fs.rmSync(l.lockPath, { force: true });
    throw err;
  }
}
