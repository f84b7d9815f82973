import fs from "node:fs";
import path from "node:path";
import { refNameProblem } from "@/schemas/branch";
import { quotePath } from "@/schemas/paths";
import { currentEnv } from "@/server/env.mjs";
import { log } from "@/server/log";

/**
 * Reading and compare-and-swapping refs in-process with git's own files-backend protocol
 * (`<ref>.lock` created exclusively, value checked, lock renamed into place), so landing a
 * change spawns no process. Concurrent git commands honour the same locks.
 *
 * As in Gitaly's updateref, the two ways a swap fails are different errors: the ref moved
 * (rebuild on the new tip) or another writer holds its lock (wait; nothing to rebuild).
 */
/** The tip is not where the caller expected: rebuild on the new tip and try again. */
export class RefMovedError extends Error {
  override name = "RefMovedError";
}

/** Another writer holds the ref's lock file; the ref itself may not have moved at all. */
export class RefLockedError extends Error {
  override name = "RefLockedError";
  constructor(
    readonly ref: string,
    readonly lockPath: string,
    readonly ageMs: number,
    readonly staleAfterMs: number,
  ) {
    super(
      `${ref} is locked: ${lockPath} has existed for ${Math.round(ageMs / 1000)} s. If no git ` +
        `process is writing this repository, remove that file; otherwise it is removed once ` +
        `older than ${Math.round(staleAfterMs / 1000)} s (HYPERION_STALE_LOCK_MS).`,
    );
  }
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

/**
 * Removes a lock file older than `staleMs`. Every swap in this process holds its lock only
 * for a synchronous write and rename, so no landing here holds one that old; a lock that old
 * was left by a writer that died. The file is moved aside before it is deleted, and put back
 * if what was moved is not the file judged stale (a new writer took the lock meanwhile).
 */
function removeStaleLock(ref: string, lockPath: string, staleMs: number, now: number): void {
  const before = fs.statSync(lockPath, { throwIfNoEntry: false });
  if (!before) return;
  const ageMs = Math.max(0, Math.round(now - before.mtimeMs));
  if (ageMs < staleMs) throw new RefLockedError(ref, lockPath, ageMs, staleMs);
  const aside = `${lockPath}.stale-${process.pid}-${Date.now()}`;
  try {
    fs.renameSync(lockPath, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  const moved = fs.statSync(aside);
  if (moved.ino !== before.ino || moved.mtimeMs !== before.mtimeMs) {
    try {
      fs.linkSync(aside, lockPath);
    } catch {}
    fs.rmSync(aside, { force: true });
    throw new RefLockedError(ref, lockPath, Math.max(0, Math.round(now - moved.mtimeMs)), staleMs);
  }
  fs.rmSync(aside, { force: true });
  log.warn({ ref, lockPath, ageMs }, "removed a stale ref lock left by a writer that died");
}

function lock(
  gitDir: string,
  ref: string,
  staleMs: number,
  now: () => number,
): { fd: number; lockPath: string; refPath: string } {
  checkRefName(ref);
  const refPath = path.join(gitDir, ref);
  const lockPath = `${refPath}.lock`;
  fs.mkdirSync(path.dirname(refPath), { recursive: true });
  for (let tries = 0; ; tries++) {
    try {
      return { fd: fs.openSync(lockPath, "wx"), lockPath, refPath };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      if (tries > 0) {
        const stat = fs.statSync(lockPath, { throwIfNoEntry: false });
        throw new RefLockedError(
          ref,
          lockPath,
          stat ? Math.max(0, Math.round(now() - stat.mtimeMs)) : 0,
          staleMs,
        );
      }
      removeStaleLock(ref, lockPath, staleMs, now());
    }
  }
}

/**
 * Sets `ref` to `newOid` only if it is `oldOid` now (null: only if it does not exist).
 * RefMovedError when it is not; RefLockedError when another writer holds its lock — after
 * one retry when that lock was stale and has been removed.
 */
export function casRefFs(
  gitDir: string,
  ref: string,
  newOid: string,
  oldOid: string | null,
  /** `staleLockMs`: HYPERION_STALE_LOCK_MS unless given. */
  opts: { staleLockMs?: number; now?: () => number } = {},
): void {
  const l = lock(
    gitDir,
    ref,
    opts.staleLockMs ?? currentEnv().HYPERION_STALE_LOCK_MS,
    opts.now ?? Date.now,
  );
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
