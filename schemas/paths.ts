import { z } from "zod";

/** Most file systems refuse a longer name (ext4, APFS, NTFS count 255 bytes or UTF-16 units). */
export const MAX_COMPONENT_BYTES = 255;
/** Linux's PATH_MAX; git's fsck flags longer names too. */
export const MAX_PATH_BYTES = 4096;

/**
 * A path on this machine, as the configuration names a repository, a key file or a program. The
 * file system takes any bytes but NUL, which no system call can be given: refused here, with the
 * key named, rather than failing later where the path is opened.
 */
export const localPath = z
  .string()
  .min(1, "is required")
  .max(MAX_PATH_BYTES, `must be at most ${MAX_PATH_BYTES} characters`)
  .refine(
    (p) => !p.includes("\0"),
    "must not contain a NUL byte (\\u0000); remove it from the path",
  );

/**
 * A path inside a repository, as a request, an answer, a patch or an area glob names it.
 * Confinement is checked on the text alone here; symlinks are checked where the repository is
 * at hand.
 */
export const repoPath = z
  .string()
  .min(1, "must not be empty")
  .superRefine((value, ctx) => {
    const problem = repoPathProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  })
  // For the published JSON Schema, which counts characters; the rule above counts bytes.
  .meta({ maxLength: MAX_PATH_BYTES });

/**
 * Why a path may not be written into a repository, or undefined. The one rule every surface
 * shares: what git itself refuses to check out (`verify_path` with core.protectNTFS and
 * core.protectHFS on), what a file system cannot hold, and what reads as something else.
 */
export function repoPathProblem(value: string): string | undefined {
  if (value === "") return "must not be empty";
  if (value.includes("\0")) return "must not contain a NUL byte";
  const control = [...value].find(isControl);
  if (control) return `must not contain control characters (${codePoint(control)})`;
  const bytes = Buffer.byteLength(value);
  if (bytes > MAX_PATH_BYTES) return `is ${bytes} bytes; the limit is ${MAX_PATH_BYTES} bytes`;
  if (value.includes("\\")) return "must use forward slashes";
  if (value.startsWith("/") || /^[A-Za-z]:/.test(value))
    return "must be relative to the repository root, not absolute";
  const segments = value.split("/");
  if (segments.some((s) => s === "..")) return "must not contain '..'";
  if (segments.some((s) => s.toLowerCase() === ".git")) return "must not be inside .git";
  if (segments.some((s) => s === "")) return "must not contain empty segments";
  if (segments.some((s) => s === ".")) return "must not contain '.' segments";
  for (const segment of segments) {
    const problem = segmentProblem(segment);
    if (problem) return problem;
  }
  return undefined;
}

/**
 * Why a folder may not be bound, on its text alone, or undefined: it must be absolute, and
 * its path (without the leading "/") must pass the one shared path rule (no "..", no ".",
 * no empty segment, no .git, no NUL or control character, within the length limits).
 */
export function bindPathProblem(value: string): string | undefined {
  if (!value.startsWith("/")) return "must be an absolute path, such as /opt/hyperion-agent";
  if (value === "/") return "must name a folder, not /";
  return repoPathProblem(value.slice(1));
}

/** Why one path component is refused (the checks that need the component on its own). */
function segmentProblem(segment: string): string | undefined {
  const bytes = Buffer.byteLength(segment);
  if (bytes > MAX_COMPONENT_BYTES)
    return `component ${quotePath(`${segment.slice(0, 24)}…`)} is ${bytes} bytes; the limit is ${MAX_COMPONENT_BYTES} bytes`;
  const plain = withoutIgnorables(segment);
  if (/^ *$/.test(plain)) return `segment ${quotePath(segment)} is blank`;
  if (/^[. ]+$/.test(plain)) {
    const why = plain === segment ? "trailing dot or space" : "ignorable Unicode code points";
    return `segment ${quotePath(segment)} looks like '${plain.startsWith("..") ? ".." : "."}' (${why})`;
  }
  const lookalike = dotGitLookalike(segment);
  if (lookalike) return `segment ${quotePath(segment)} looks like .git (${lookalike})`;
  return undefined;
}

/**
 * Code points HFS+ drops when it compares names, so ".g\u200Cit" is ".git" there (git's
 * `next_hfs_char` in utf8.c).
 */
const HFS_IGNORABLE = /[\u200C-\u200F\u202A-\u202E\u206A-\u206F\uFEFF]/g;

const withoutIgnorables = (segment: string) => segment.replace(HFS_IGNORABLE, "");

/**
 * Why a path component would reach `.git` on some file system, or undefined: NTFS drops
 * trailing dots and spaces, answers to the 8.3 short name `GIT~1` and to `.git::$DATA`-style
 * streams; HFS+ ignores some code points. After git's `is_ntfs_dotgit` and `is_hfs_dotgit`.
 */
export function dotGitLookalike(segment: string): string | undefined {
  const plain = withoutIgnorables(segment);
  const m = /^(\.git|git~\d+)([. ]*)(:.*)?$/i.exec(plain);
  if (!m) return undefined;
  const [, name = "", tail = "", stream] = m;
  if (stream !== undefined) return "NTFS stream";
  if (name.startsWith("g") || name.startsWith("G")) return "8.3 short name";
  if (tail.endsWith(".")) return "trailing dot";
  if (tail.endsWith(" ")) return "trailing space";
  if (plain !== segment) return "ignorable Unicode code points";
  return "same name in another case";
}

/** The short names NTFS may give each file git treats specially (see git's path.c). */
const SPECIAL_FILES = [
  { name: ".gitmodules", short: ["gitmod", "gi7eba"] },
  { name: ".gitattributes", short: ["gitatt", "gi7d29"] },
  { name: ".gitignore", short: ["gitign", "gi250a"] },
  { name: ".mailmap", short: ["mailma", "maba30"] },
] as const;

/**
 * Which of git's special files (.gitmodules, .gitattributes, .gitignore, .mailmap) a path
 * component stands for on any file system, or undefined. Git reads these from the tree, so
 * they may not be symlinks, and fsck checks their contents.
 */
export function specialGitFile(segment: string): string | undefined {
  const plain = withoutIgnorables(segment)
    .replace(/:.*$/, "")
    .replace(/[. ]+$/, "")
    .toLowerCase();
  for (const f of SPECIAL_FILES) {
    if (plain === f.name) return f.name;
    if (f.short.some((s) => new RegExp(`^${s}~\\d+$`).test(plain))) return f.name;
  }
  return undefined;
}

/** A path quoted for a message, with control and invisible characters spelled out. */
export function quotePath(value: string): string {
  const shown = [...value]
    .map((c) =>
      isControl(c) || INVISIBLE.test(c)
        ? `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`
        : c,
    )
    .join("");
  return `'${shown}'`;
}

const INVISIBLE = /[\u200B-\u200F\u202A-\u202E\u2060-\u206F\uFEFF]/;

/** C0 controls (NUL to U+001F) and DEL. */
export function isControl(c: string): boolean {
  const n = c.charCodeAt(0);
  return n < 0x20 || n === 0x7f;
}

/** A character as U+XXXX, for messages about characters that cannot be shown. */
export const codePoint = (c: string) =>
  `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;
