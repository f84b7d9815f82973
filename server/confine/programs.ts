import fs from "node:fs";
import path from "node:path";

/**
 * Where Hyperion looks for the programs it runs itself (git, bubblewrap, setpriv…): a fixed list
 * of system folders, never the inherited PATH. A folder (and each folder above it) must belong to
 * root — or to Hyperion's own user — and be writable by no one else, and so must the program:
 * nothing a confined child could have written is ever executed by Hyperion.
 */
const TRUSTED_DIRS = [
  "/usr/bin",
  "/bin",
  "/usr/sbin",
  "/sbin",
  "/usr/local/bin",
  "/usr/local/sbin",
];

export type ProgramName = "git" | "bwrap" | "setpriv" | "prlimit" | "chown" | "du" | "sh";

export class ProgramNotFound extends Error {
  override name = "ProgramNotFound";
}

const resolved = new Map<string, string>();

const owners = () => {
  const uid = process.getuid?.() ?? 0;
  return new Set([0, uid]);
};

/** Why `p` is not trusted (owned by someone else, or writable by group or others), or null. */
export function untrustedBecause(p: string): string | null {
  const ok = owners();
  let cur = path.resolve(p);
  for (;;) {
    let st: fs.Stats;
    try {
      st = fs.statSync(cur);
    } catch {
      return `${cur} does not exist`;
    }
    if (!ok.has(st.uid)) return `${cur} belongs to uid ${st.uid}`;
    // A sticky, world-writable folder (/tmp) still lets anyone plant a file in it.
    if (st.mode & 0o022) return `${cur} is writable by ${st.mode & 0o002 ? "anyone" : "its group"}`;
    const up = path.dirname(cur);
    if (up === cur) return null;
    cur = up;
  }
}

/**
 * The absolute path of one of the programs Hyperion runs, found once in the trusted folders
 * (symlinks resolved, so /bin → /usr/bin on a merged /usr) and checked for ownership.
 */
export function program(name: ProgramName): string {
  const known = resolved.get(name);
  if (known) return known;
  const problems: string[] = [];
  for (const dir of TRUSTED_DIRS) {
    // turbopackIgnore: a host path (not a project file); without it Next traces the whole project.
    const candidate = path.join(/* turbopackIgnore: true */ dir, name);
    let real: string;
    try {
      real = fs.realpathSync(/* turbopackIgnore: true */ candidate);
      fs.accessSync(real, fs.constants.X_OK);
    } catch {
      continue;
    }
    const why = untrustedBecause(real);
    if (why) {
      problems.push(`${candidate}: ${why}`);
      continue;
    }
    resolved.set(name, real);
    return real;
  }
  throw new ProgramNotFound(
    problems.length
      ? `${name} was found only where it is not safe to run it from (${problems.join("; ")})`
      : `${name} is not installed in ${TRUSTED_DIRS.join(", ")}`,
  );
}

/** Like `program`, but null when it is missing or untrusted. */
export function programOrNull(name: ProgramName): string | null {
  try {
    return program(name);
  } catch {
    return null;
  }
}

/** The PATH Hyperion's own children get: the trusted folders, in order. */
export const TRUSTED_PATH = TRUSTED_DIRS.join(":");
