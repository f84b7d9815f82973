// Where the pinned agent CLIs live, and proof that they are what was installed. Plain JS so that
// bin/agent-clis.mjs (which installs and checks them) and the harness (which runs them) share it.
//
// An install is one npm prefix per CLI and version. After npm, every file and folder of it is made
// root-owned (when installing as root) and read-only, and `${prefix}.integrity.json` records, for
// every entry, its relative path, type, mode, owner, size, sha256 (files) or target (symlinks),
// and its stat identity (inode, mtime, ctime). Verification walks the prefix again: an entry
// added, missing, changed, made writable or (as root) not root-owned is named. The quick form
// hashes only the files whose size, inode, mtime or ctime differ from the manifest: a write
// always moves ctime, and ctime cannot be set back without root, so an unchanged stat is
// unchanged content.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { currentEnv } from "../../env.mjs";

/** Where a root Hyperion installs the CLIs: a path an unprivileged sandbox user can reach. */
export const ROOT_AGENT_CLIS_DIR = "/opt/hyperion/agent-clis";

/** What fixes an install that fails verification. */
export const REINSTALL = "node bin/agent-clis.mjs";

const MANIFEST_FORMAT = 1;
/** At most this many problems are named in a message; the rest are counted. */
const NAMED = 5;

export function isRoot() {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

/**
 * Where the pinned CLIs are installed: HYPERION_AGENT_CLIS_DIR, else /opt/hyperion/agent-clis as
 * root (an unprivileged sandbox user cannot traverse /root), else ~/.cache/hyperion/agent-clis.
 * @param {string} [configured] HYPERION_AGENT_CLIS_DIR, as parsed by server/env.mjs
 * @returns {string}
 */
export function agentClisDir(configured = currentEnv().HYPERION_AGENT_CLIS_DIR) {
  if (configured) return path.resolve(configured);
  return isRoot()
    ? ROOT_AGENT_CLIS_DIR
    : path.join(os.homedir(), ".cache", "hyperion", "agent-clis");
}

/**
 * One CLI's npm prefix under `dir`.
 * @param {string} dir
 * @param {string} name
 * @param {string} version
 */
export function installPrefix(dir, name, version) {
  return path.join(dir, `${name}@${version}`);
}

/**
 * The integrity manifest of a prefix: beside it, outside what its runs are shown.
 * @param {string} prefix
 */
export function manifestPathOf(prefix) {
  return `${prefix}.integrity.json`;
}

/** @param {number} mode */
const octal = (mode) => `0${(mode & 0o7777).toString(8).padStart(3, "0")}`;

/**
 * Every folder from / down to `dir` that others cannot traverse (no o+x): the sandbox's
 * unprivileged user could not reach a CLI below it.
 * @param {string} dir
 * @returns {string[]}
 */
export function untraversable(dir) {
  const out = [];
  let at = path.resolve(dir);
  for (;;) {
    try {
      if ((fs.statSync(at).mode & 0o001) === 0) out.push(at);
    } catch {}
    const up = path.dirname(at);
    if (up === at) break;
    at = up;
  }
  return out.reverse();
}

/**
 * Creates `dir` (and the folders above it that are missing) traversable by others (0755), and
 * as root makes `dir` itself root-owned 0755. Returns warnings for existing folders above it that
 * others cannot traverse (those are not changed here).
 * @param {string} dir
 * @returns {string[]}
 */
export function prepareClisDir(dir) {
  const abs = path.resolve(dir);
  const missing = [];
  for (let at = abs; !fs.existsSync(at); at = path.dirname(at)) missing.unshift(at);
  for (const at of missing) {
    fs.mkdirSync(at, { mode: 0o755 });
    fs.chmodSync(at, 0o755);
    if (isRoot()) fs.chownSync(at, 0, 0);
  }
  if (isRoot()) {
    fs.chownSync(abs, 0, 0);
    fs.chmodSync(abs, 0o755);
  }
  return untraversable(abs).map(
    (at) =>
      `${at} is not traversable by others (mode ${octal(fs.statSync(at).mode)}): a sandboxed run cannot reach the CLIs below it; chmod o+x ${at}, or set HYPERION_AGENT_CLIS_DIR elsewhere`,
  );
}

/**
 * Every entry under `root` (not `root` itself), depth first in sorted order, not following links.
 * @param {string} root
 * @param {(rel: string, abs: string, st: fs.BigIntStats) => void} visit
 */
function walk(root, visit) {
  /** @param {string} rel */
  const inner = (rel) => {
    const names = fs.readdirSync(rel ? path.join(root, rel) : root).sort();
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const abs = path.join(root, r);
      const st = fs.lstatSync(abs, { bigint: true });
      visit(r, abs, st);
      if (st.isDirectory()) inner(r);
    }
  };
  inner("");
}

/**
 * Makes a prefix read-only for everyone, and root-owned when run as root: folders 0555, files
 * keep their read and execute bits (and become readable by all), lose every write bit and any
 * setuid, setgid or sticky bit. Symlinks are only re-owned.
 * @param {string} prefix
 */
export function lockDown(prefix) {
  const root = isRoot();
  /** @param {string} abs @param {fs.BigIntStats} st */
  const lock = (abs, st) => {
    if (root) fs.lchownSync(abs, 0, 0);
    if (st.isSymbolicLink()) return;
    fs.chmodSync(abs, st.isDirectory() ? 0o555 : (Number(st.mode) & 0o555) | 0o444);
  };
  walk(prefix, (_rel, abs, st) => lock(abs, st));
  lock(prefix, fs.lstatSync(prefix, { bigint: true }));
}

/**
 * Removes a prefix (read-only, so its folders are made writable first) and its manifest.
 * @param {string} prefix
 */
export function removeInstall(prefix) {
  fs.rmSync(manifestPathOf(prefix), { force: true });
  let st;
  try {
    st = fs.lstatSync(prefix);
  } catch {
    return;
  }
  if (st.isDirectory()) {
    fs.chmodSync(prefix, 0o755);
    walk(prefix, (_rel, abs, s) => {
      if (s.isDirectory()) fs.chmodSync(abs, 0o755);
    });
  }
  fs.rmSync(prefix, { recursive: true, force: true });
}

/** @param {string} file */
function sha256(file) {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0));
  try {
    const hash = crypto.createHash("sha256");
    const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(n === buf.length ? buf : buf.subarray(0, n));
    }
    return hash.digest("hex");
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * @typedef {{
 *   path: string;
 *   type: "dir" | "file" | "symlink";
 *   mode: number;
 *   uid: number;
 *   size: number;
 *   sha256?: string;
 *   target?: string;
 *   ino: string;
 *   mtimeNs: string;
 *   ctimeNs: string;
 * }} ManifestEntry
 * @typedef {{ format: number; label: string; recordedAt: string; entries: ManifestEntry[] }} Manifest
 */

/** @param {fs.BigIntStats} st @returns {ManifestEntry["type"] | null} */
const typeOf = (st) =>
  st.isDirectory() ? "dir" : st.isFile() ? "file" : st.isSymbolicLink() ? "symlink" : null;

/**
 * @param {string} rel
 * @param {string} abs
 * @param {fs.BigIntStats} st
 * @returns {ManifestEntry}
 */
function entryOf(rel, abs, st) {
  const type = typeOf(st);
  if (!type) throw new Error(`${abs} is not a file, folder or symlink`);
  return {
    path: rel,
    type,
    mode: Number(st.mode) & 0o7777,
    uid: Number(st.uid),
    size: Number(st.size),
    ...(type === "file" ? { sha256: sha256(abs) } : {}),
    ...(type === "symlink" ? { target: fs.readlinkSync(abs) } : {}),
    ino: String(st.ino),
    mtimeNs: String(st.mtimeNs),
    ctimeNs: String(st.ctimeNs),
  };
}

/**
 * Records `${prefix}.integrity.json` for a prefix as it is now (after lockDown): root-owned
 * when run as root, 0444, written whole or not at all.
 * @param {string} prefix
 * @param {{ label: string }} opts  how messages name the install, e.g. "codex 0.169.0"
 * @returns {Manifest}
 */
export function recordIntegrity(prefix, { label }) {
  /** @type {ManifestEntry[]} */
  const entries = [entryOf(".", prefix, fs.lstatSync(prefix, { bigint: true }))];
  walk(prefix, (rel, abs, st) => entries.push(entryOf(rel, abs, st)));
  /** @type {Manifest} */
  const manifest = {
    format: MANIFEST_FORMAT,
    label,
    recordedAt: new Date().toISOString(),
    entries,
  };
  const file = manifestPathOf(prefix);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.rmSync(tmp, { force: true });
  fs.writeFileSync(tmp, `${JSON.stringify(manifest, null, 1)}\n`, { mode: 0o444, flag: "wx" });
  // ctime comes from a coarse clock (a tick of a few ms): a write in the tick of the last
  // recorded ctime would leave a file's stat as recorded. So the manifest is sealed only once its
  // own ctime is past every recorded one — at most a tick of chmods — and verification hashes
  // any file recorded in the manifest's tick or later (as git does with its racy index entries).
  const newest = entries.reduce((m, e) => (BigInt(e.ctimeNs) > m ? BigInt(e.ctimeNs) : m), 0n);
  const giveUp = Date.now() + 2_000;
  do fs.chmodSync(tmp, 0o444);
  while (fs.statSync(tmp, { bigint: true }).ctimeNs <= newest && Date.now() < giveUp);
  if (isRoot()) fs.chownSync(tmp, 0, 0);
  fs.renameSync(tmp, file);
  return manifest;
}

/**
 * @typedef {{ ok: true; entries: number; hashed: number }
 *   | { ok: false; unverified: boolean; problems: string[]; summary: string; message: string }} Verification
 */

/**
 * Verifies a prefix against its manifest. `full` re-hashes every file; otherwise only files
 * whose size, inode, mtime or ctime moved (or that were recorded in the manifest's own clock
 * tick) are hashed. Each problem names the entry by its path in the prefix; `summary` says the
 * first few after the label, `message` adds the fix. No manifest, or one that is not
 * trustworthy itself, is `unverified`.
 * @param {string} prefix
 * @param {{ label: string; full?: boolean }} opts
 * @returns {Verification}
 */
export function verifyIntegrity(prefix, { label, full = false }) {
  const root = isRoot();
  /** @param {string[]} problems @param {boolean} unverified @returns {Verification} */
  const failed = (problems, unverified) => {
    const more = problems.length > NAMED ? `; and ${problems.length - NAMED} more` : "";
    const summary = `${label}: ${problems.slice(0, NAMED).join("; ")}${more}`;
    return {
      ok: false,
      unverified,
      problems,
      summary,
      message: `${summary}; reinstall with ${REINSTALL}`,
    };
  };

  const file = manifestPathOf(prefix);
  /** @type {Manifest} */
  let manifest;
  /** The manifest's own ctime: a file recorded at or after it may have changed in that tick. */
  let sealed = 0n;
  try {
    const st = fs.lstatSync(file, { bigint: true });
    sealed = st.ctimeNs;
    const [mode, uid] = [Number(st.mode), Number(st.uid)];
    if (!st.isFile()) return failed([`${file} is not a file`], true);
    if (root && uid !== 0)
      return failed([`${file} (its integrity manifest) is not owned by root (uid ${uid})`], true);
    if (mode & 0o222 && (root || mode & 0o022))
      return failed([`${file} (its integrity manifest) is writable (mode ${octal(mode)})`], true);
    manifest = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    const code = /** @type {NodeJS.ErrnoException} */ (err).code;
    return failed(
      [
        code === "ENOENT"
          ? `is unverified: it has no integrity manifest (${file})`
          : `its integrity manifest ${file} cannot be read (${/** @type {Error} */ (err).message})`,
      ],
      true,
    );
  }
  if (manifest?.format !== MANIFEST_FORMAT || !Array.isArray(manifest.entries))
    return failed([`its integrity manifest ${file} is not one this Hyperion reads`], true);

  /** @type {Map<string, ManifestEntry>} */
  const recorded = new Map(manifest.entries.map((e) => [e.path, e]));
  /** @type {string[]} */
  const problems = [];
  let entries = 0;
  let hashed = 0;

  /** @param {string} rel @param {string} abs @param {fs.BigIntStats} st */
  const check = (rel, abs, st) => {
    entries++;
    const was = recorded.get(rel);
    recorded.delete(rel);
    const type = typeOf(st);
    if (!was) {
      problems.push(`${rel} was added since install`);
      return;
    }
    if (type !== was.type) {
      problems.push(
        `${rel} changed since install (was a ${was.type}, now ${type ?? "special file"})`,
      );
      return;
    }
    const uid = Number(st.uid);
    if (root ? uid !== 0 : uid !== was.uid)
      problems.push(`${rel} is not owned by ${root ? "root" : `uid ${was.uid}`} (uid ${uid})`);
    if (type === "symlink") {
      const target = fs.readlinkSync(abs);
      if (target !== was.target)
        problems.push(`${rel} changed since install (symlink to ${target}, was ${was.target})`);
      return;
    }
    const mode = Number(st.mode) & 0o7777;
    if (mode & 0o222) problems.push(`${rel} is writable (mode ${octal(mode)})`);
    else if (mode !== was.mode)
      problems.push(`${rel} changed mode since install (${octal(was.mode)} → ${octal(mode)})`);
    if (type !== "file") return;
    if (Number(st.size) !== was.size) {
      problems.push(`${rel} changed since install (size ${was.size} → ${st.size})`);
      return;
    }
    const same =
      String(st.ino) === was.ino &&
      String(st.mtimeNs) === was.mtimeNs &&
      String(st.ctimeNs) === was.ctimeNs &&
      BigInt(was.ctimeNs) < sealed;
    if (same && !full) return;
    hashed++;
    if (sha256(abs) !== was.sha256) problems.push(`${rel} changed since install (sha256 differs)`);
  };

  try {
    const top = fs.lstatSync(prefix, { bigint: true });
    check(".", prefix, top);
    if (top.isDirectory()) walk(prefix, check);
  } catch (err) {
    const code = /** @type {NodeJS.ErrnoException} */ (err).code;
    if (code === "ENOENT" && recorded.size === manifest.entries.length)
      return failed([`is not installed (${prefix} is missing)`], false);
    problems.push(`cannot be read (${/** @type {Error} */ (err).message})`);
  }
  for (const rel of recorded.keys()) problems.push(`${rel} is missing since install`);
  return problems.length ? failed(problems, false) : { ok: true, entries, hashed };
}

/**
 * Why an executable that no manifest covers must not be run by a root Hyperion: the file (and
 * the file a link leads to), its install folder, and every folder above and between them must be
 * root-owned and not writable by group or others (a sticky folder above the install folder, such
 * as /tmp, is allowed: others cannot replace what root put there). Empty when all hold.
 * @param {string} executable
 * @param {string} installDir
 * @returns {string[]}
 */
export function rootTrustProblems(executable, installDir) {
  /** @type {string[]} */
  const problems = [];
  const seen = new Set();
  /** @param {string} at @param {"file" | "install" | "above"} role */
  const need = (at, role) => {
    if (seen.has(at)) return;
    seen.add(at);
    let st;
    try {
      st = fs.statSync(at);
    } catch (err) {
      problems.push(`${at} cannot be read (${/** @type {NodeJS.ErrnoException} */ (err).code})`);
      return;
    }
    const what = role === "file" ? "" : role === "install" ? " (its install folder)" : "";
    if (st.uid !== 0) problems.push(`${at}${what} is not owned by root (uid ${st.uid})`);
    const sticky = role === "above" && (st.mode & 0o1000) !== 0;
    if (st.mode & 0o022 && !sticky)
      problems.push(
        `${at}${what} is writable by ${st.mode & 0o002 ? "others" : "its group"} (mode ${octal(st.mode)})`,
      );
  };
  /** @param {string} from */
  const above = (from) => {
    for (let at = from; ; at = path.dirname(at)) {
      need(at, "above");
      if (path.dirname(at) === at) break;
    }
  };
  const given = path.resolve(executable);
  let real = given;
  try {
    real = fs.realpathSync(given);
  } catch {}
  let install = path.resolve(installDir);
  try {
    install = fs.realpathSync(install);
  } catch {}
  need(real, "file");
  need(install, "install");
  above(path.dirname(real));
  above(path.dirname(given));
  above(install);
  return problems;
}
