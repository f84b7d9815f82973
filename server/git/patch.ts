import { repoPathProblem } from "@/schemas/paths";

export type HunkLine = { op: " " | "-" | "+"; text: string; noEol: boolean };
export type Hunk = {
  oldStart: number;
  oldCount: number;
  newStart: number;
  newCount: number;
  lines: HunkLine[];
};

export type FilePatch = {
  oldPath: string | null;
  newPath: string | null;
  oldMode?: string;
  newMode?: string;
  oldOid?: string;
  newOid?: string;
  binary: boolean;
  copy: boolean;
  hunks: Hunk[];
};

export class PatchParseError extends Error {
  override name = "PatchParseError";
}

/** Undoes git's C-style quoting of unusual path names ("a/caf\303\251"). */
function unquote(raw: string): string {
  if (!raw.startsWith('"')) return raw;
  const bytes: number[] = [];
  const body = raw.slice(1, -1);
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c !== "\\") {
      bytes.push(...Buffer.from(c));
      continue;
    }
    const n = body[++i] ?? "";
    if (/[0-7]/.test(n)) {
      bytes.push(Number.parseInt(body.slice(i, i + 3), 8));
      i += 2;
    } else
      bytes.push(
        (
          { n: 10, t: 9, '"': 34, "\\": 92, a: 7, b: 8, f: 12, r: 13, v: 11 } as Record<
            string,
            number
          >
        )[n] ?? n.charCodeAt(0),
      );
  }
  return Buffer.from(bytes).toString();
}

function stripPrefix(p: string): string | null {
  const name = unquote(p.trim());
  if (name === "/dev/null") return null;
  return name.replace(/^[ab]\//, "");
}

/**
 * Parses a patch as `git diff --binary --full-index` writes it: new, deleted, renamed and copied
 * files, mode changes and binary files. Throws on anything that is not such a diff.
 */
export function parsePatch(text: string): FilePatch[] {
  const lines = text.split("\n");
  const files: FilePatch[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] as string;
    if (!line.startsWith("diff --git ")) {
      i++;
      continue;
    }
    const file: FilePatch = { oldPath: null, newPath: null, binary: false, copy: false, hunks: [] };
    const names = line.slice("diff --git ".length);
    // Same name on both sides is the common case: "a/<p> b/<p>".
    const half = (names.length - 1) / 2;
    if (
      Number.isInteger(half) &&
      names.slice(0, half).slice(2) === names.slice(half + 1).slice(2)
    ) {
      file.oldPath = stripPrefix(names.slice(0, half));
      file.newPath = stripPrefix(names.slice(half + 1));
    }
    i++;
    let sawNew = false;
    let sawDeleted = false;
    for (; i < lines.length; i++) {
      const l = lines[i] as string;
      if (l.startsWith("diff --git ")) break;
      if (l.startsWith("old mode ")) file.oldMode = l.slice(9).trim();
      else if (l.startsWith("new mode ")) file.newMode = l.slice(9).trim();
      else if (l.startsWith("new file mode ")) {
        file.newMode = l.slice(14).trim();
        sawNew = true;
      } else if (l.startsWith("deleted file mode ")) {
        file.oldMode = l.slice(18).trim();
        sawDeleted = true;
      } else if (l.startsWith("rename from ")) file.oldPath = unquote(l.slice(12));
      else if (l.startsWith("rename to ")) file.newPath = unquote(l.slice(10));
      else if (l.startsWith("copy from ")) {
        file.oldPath = unquote(l.slice(10));
        file.copy = true;
      } else if (l.startsWith("copy to ")) file.newPath = unquote(l.slice(8));
      else if (l.startsWith("index ")) {
        const m = /^index ([0-9a-f]+)\.\.([0-9a-f]+)(?: (\d+))?$/.exec(l);
        if (m) {
          file.oldOid = m[1];
          file.newOid = m[2];
          if (m[3] && !file.oldMode) file.oldMode = m[3];
          if (m[3] && !file.newMode) file.newMode = m[3];
        }
      } else if (l.startsWith("--- ")) file.oldPath = stripPrefix(l.slice(4));
      else if (l.startsWith("+++ ")) file.newPath = stripPrefix(l.slice(4));
      else if (l === "GIT binary patch" || l.startsWith("Binary files ")) {
        file.binary = true;
        for (i++; i < lines.length && !(lines[i] as string).startsWith("diff --git "); i++);
        break;
      } else if (l.startsWith("@@")) {
        const m = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/.exec(l);
        if (!m) throw new PatchParseError(`malformed hunk header: ${l.slice(0, 80)}`);
        const hunk: Hunk = {
          oldStart: Number(m[1]),
          oldCount: m[2] === undefined ? 1 : Number(m[2]),
          newStart: Number(m[3]),
          newCount: m[4] === undefined ? 1 : Number(m[4]),
          lines: [],
        };
        let oldLeft = hunk.oldCount;
        let newLeft = hunk.newCount;
        for (
          i++;
          i < lines.length && (oldLeft > 0 || newLeft > 0 || (lines[i] as string).startsWith("\\"));
          i++
        ) {
          const h = lines[i] as string;
          if (h.startsWith("\\")) {
            const last = hunk.lines[hunk.lines.length - 1];
            if (last) last.noEol = true;
            continue;
          }
          const op = (h[0] ?? " ") as HunkLine["op"];
          if (op !== " " && op !== "-" && op !== "+")
            throw new PatchParseError(`malformed hunk line: ${h.slice(0, 80)}`);
          if (op !== "+") oldLeft--;
          if (op !== "-") newLeft--;
          hunk.lines.push({ op, text: h.slice(1), noEol: false });
        }
        if (oldLeft !== 0 || newLeft !== 0) throw new PatchParseError("truncated hunk");
        file.hunks.push(hunk);
        i--;
      }
    }
    if (sawNew) file.oldPath = null;
    if (sawDeleted) file.newPath = null;
    if (!file.oldPath && !file.newPath)
      throw new PatchParseError(`cannot tell the file names in: ${line.slice(0, 120)}`);
    files.push(file);
  }
  if (files.length === 0) throw new PatchParseError("not a git diff: no 'diff --git' header found");
  return files;
}

/** Every path a patch reads or writes, checked to stay inside the repository. */
export function patchPaths(files: FilePatch[]): {
  paths: string[];
  problems: { path: string; message: string }[];
} {
  const paths = new Set<string>();
  const problems: { path: string; message: string }[] = [];
  for (const f of files) {
    for (const p of [f.oldPath, f.newPath]) {
      if (p === null) continue;
      const problem = repoPathProblem(p);
      if (problem) problems.push({ path: p, message: problem });
      else paths.add(p);
    }
  }
  return { paths: [...paths].sort(), problems };
}

export class HunkConflict extends Error {
  override name = "HunkConflict";
  constructor(readonly path: string) {
    super(`patch does not apply to ${path}`);
  }
}

type Lines = { lines: string[]; eofNewline: boolean };

function toLines(text: string): Lines {
  if (text === "") return { lines: [], eofNewline: true };
  const eofNewline = text.endsWith("\n");
  const lines = (eofNewline ? text.slice(0, -1) : text).split("\n");
  return { lines, eofNewline };
}

function fromLines({ lines, eofNewline }: Lines): string {
  if (lines.length === 0) return "";
  return lines.join("\n") + (eofNewline ? "\n" : "");
}

function matchesAt(orig: string[], at: number, old: string[]): boolean {
  if (at < 0 || at + old.length > orig.length) return false;
  for (let k = 0; k < old.length; k++) if (orig[at + k] !== old[k]) return false;
  return true;
}

/**
 * Applies a file's hunks to its text like `git apply` without fuzz: each hunk's old lines must
 * match exactly, at the expected line or the nearest place after the previous hunk.
 */
export function applyHunks(path: string, text: string, hunks: Hunk[]): string {
  const orig = toLines(text);
  const out: string[] = [];
  let cursor = 0;
  let offset = 0;
  let eofNewline = orig.eofNewline;
  for (const hunk of hunks) {
    const old = hunk.lines.filter((l) => l.op !== "+").map((l) => l.text);
    const neu = hunk.lines.filter((l) => l.op !== "-");
    const expected = Math.max(
      cursor,
      (hunk.oldCount === 0 ? hunk.oldStart : hunk.oldStart - 1) + offset,
    );
    let at = -1;
    for (let d = 0; at < 0 && (expected - d >= cursor || expected + d <= orig.lines.length); d++) {
      if (matchesAt(orig.lines, expected + d, old)) at = expected + d;
      else if (d > 0 && expected - d >= cursor && matchesAt(orig.lines, expected - d, old))
        at = expected - d;
    }
    if (at < 0) throw new HunkConflict(path);
    const oldNoEol = hunk.lines.some((l) => l.op !== "+" && l.noEol);
    const reachesEnd = at + old.length === orig.lines.length;
    if (oldNoEol && (!reachesEnd || orig.eofNewline)) throw new HunkConflict(path);
    out.push(...orig.lines.slice(cursor, at), ...neu.map((l) => l.text));
    cursor = at + old.length;
    offset = at - (hunk.oldCount === 0 ? hunk.oldStart : hunk.oldStart - 1);
    if (reachesEnd) eofNewline = !neu.some((l) => l.noEol);
  }
  out.push(...orig.lines.slice(cursor));
  return fromLines({ lines: out, eofNewline });
}
