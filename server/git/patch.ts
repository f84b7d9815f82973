import { quotePath, repoPathProblem, specialGitFile } from "@/schemas/paths";

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

export type PatchOptions = {
  /** Gitlinks (mode 160000) and .gitmodules may be written; off unless a repository opts in. */
  allowSubmodules?: boolean;
};

/** Limits that keep parsing and applying any patch bounded; each refusal names its limit. */
export const MAX_PATCH_FILES = 2_000;
export const MAX_HUNKS_PER_FILE = 5_000;
export const MAX_PATCH_HUNK_LINES = 200_000;
export const MAX_LINE_NUMBER = 10_000_000;
/** Line comparisons applyHunks may spend looking for where a file's hunks apply. */
export const MAX_HUNK_SEARCH_COMPARISONS = 20_000_000;

export const FILE_MODES = ["100644", "100755", "120000"] as const;
export const GITLINK_MODE = "160000";

/** A patch that is not a `git diff` we can apply safely; `problems` lists each reason. */
export class PatchParseError extends Error {
  override name = "PatchParseError";
  constructor(
    message: string,
    readonly problems: string[] = [message],
  ) {
    super(message);
  }
}

/** The patch parsed but contradicts the repository (an object of the wrong type, say). */
export class InvalidPatchError extends PatchParseError {
  override name = "InvalidPatchError";
}

/**
 * Undoes git's C-style quoting of unusual path names (`"a/caf\303\251"`). Null when the text
 * is not a well-formed quoted name or its bytes are not UTF-8 (a tree entry would not match).
 */
function unquote(raw: string): string | null {
  if (!raw.startsWith('"')) return raw;
  if (raw.length < 2 || !raw.endsWith('"')) return null;
  const bytes: number[] = [];
  const body = raw.slice(1, -1);
  const escapes: Record<string, number> = {
    n: 10,
    t: 9,
    '"': 34,
    "\\": 92,
    a: 7,
    b: 8,
    f: 12,
    r: 13,
    v: 11,
  };
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c === '"') return null;
    if (c !== "\\") {
      bytes.push(...Buffer.from(c));
      continue;
    }
    const n = body[++i] ?? "";
    const octal = /^[0-3][0-7]{2}/.exec(body.slice(i, i + 3));
    if (octal) {
      bytes.push(Number.parseInt(octal[0], 8));
      i += 2;
    } else if (escapes[n] !== undefined) bytes.push(escapes[n]);
    else return null;
  }
  const buf = Buffer.from(bytes);
  const text = buf.toString("utf8");
  return Buffer.from(text, "utf8").equals(buf) ? text : null;
}

/** Splits a quoted name off the front of `text`: [name, rest], or null. */
function takeQuoted(text: string): [string, string] | null {
  for (let i = 1; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === '"') return [text.slice(0, i + 1), text.slice(i + 1)];
  }
  return null;
}

const show = (line: string) => quotePath(line.length > 80 ? `${line.slice(0, 80)}…` : line);

/** A name with its `a/` or `b/` prefix, as `git diff` writes it, without the prefix. */
function stripPrefix(raw: string, prefix: "a/" | "b/"): string {
  const name = unquote(raw);
  if (name === null) throw new PatchParseError(`malformed quoted file name ${show(raw)}`);
  if (!name.startsWith(prefix))
    throw new PatchParseError(`file name ${quotePath(name)} does not start with '${prefix}'`);
  return name.slice(prefix.length);
}

/**
 * The two names on a `diff --git` line. Unquoted names are only certain when both are the
 * same (git's own rule, `git_header_name`); a rename's names then come from its
 * `rename from`/`rename to` lines.
 */
function headerNames(names: string): { old: string; new: string } | null {
  if (names.startsWith('"')) {
    const first = takeQuoted(names);
    if (!first?.[1].startsWith(" "))
      throw new PatchParseError(`malformed diff header: ${show(names)}`);
    return { old: stripPrefix(first[0], "a/"), new: stripPrefix(first[1].slice(1), "b/") };
  }
  const quotedSecond = names.indexOf(' "');
  if (quotedSecond >= 0 && names.endsWith('"'))
    return {
      old: stripPrefix(names.slice(0, quotedSecond), "a/"),
      new: stripPrefix(names.slice(quotedSecond + 1), "b/"),
    };
  const half = (names.length - 1) / 2;
  if (Number.isInteger(half) && names[half] === " ") {
    const [a, b] = [names.slice(0, half), names.slice(half + 1)];
    if (a.startsWith("a/") && b.startsWith("b/") && a.slice(2) === b.slice(2))
      return { old: a.slice(2), new: b.slice(2) };
  }
  const parts = names.split(" b/");
  if (parts.length === 2 && parts[0]?.startsWith("a/"))
    return { old: (parts[0] as string).slice(2), new: parts[1] as string };
  return null;
}

/** The name on a `---` or `+++` line (null for /dev/null); git may add a tab after it. */
function fileLineName(raw: string, prefix: "a/" | "b/"): string | null {
  const quoted = raw.startsWith('"') ? takeQuoted(raw) : null;
  if (quoted && quoted[1] !== "" && quoted[1] !== "\t")
    throw new PatchParseError(`malformed file name line ${show(raw)}`);
  const text = quoted ? quoted[0] : (raw.split("\t")[0] ?? "");
  if (text === "/dev/null") return null;
  return stripPrefix(text, prefix);
}

function lineNumber(digits: string, path: string, header: string): number {
  const n = digits.length > 12 ? Number.POSITIVE_INFINITY : Number(digits);
  if (!Number.isSafeInteger(n) || n > MAX_LINE_NUMBER)
    throw new PatchParseError(
      `path ${quotePath(path)}: hunk header ${show(header)} names line ${digits.length > 20 ? `${digits.slice(0, 20)}…` : digits}; the limit is ${MAX_LINE_NUMBER}`,
    );
  return n;
}

const BASE85_LINE = /^[A-Za-z][0-9A-Za-z!#$%&()*+\-;<=>?@^_`{|}~]+$/;

/** Collects problems per path, so one bad path is reported once however often it appears. */
class Problems {
  readonly list: string[] = [];
  private seen = new Set<string>();
  add(path: string, message: string): void {
    const text = `path ${quotePath(path)} ${message}`;
    if (this.seen.has(text)) return;
    this.seen.add(text);
    this.list.push(text);
  }
  name(path: string): void {
    const problem = repoPathProblem(path);
    if (problem) this.add(path, problem);
  }
}

function checkMode(
  raw: string,
  path: string,
  what: string,
  opts: PatchOptions,
  problems: Problems,
): string | undefined {
  if (!/^[0-7]{6}$/.test(raw)) {
    problems.add(path, `has ${what} ${quotePath(raw)}, which is not a file mode`);
    return undefined;
  }
  const allowed: string[] = [...FILE_MODES, ...(opts.allowSubmodules ? [GITLINK_MODE] : [])];
  if (!allowed.includes(raw)) {
    problems.add(
      path,
      raw === GITLINK_MODE
        ? `has ${what} ${raw} (a submodule); Hyperion does not support submodules`
        : `has ${what} ${raw}; only ${allowed.join(", ")} are allowed`,
    );
    return undefined;
  }
  return raw;
}

/**
 * Parses and checks a patch as `git diff --binary --full-index` writes it: new, deleted,
 * renamed and copied files, mode changes and binary files. Every name (the `diff --git`
 * header's, `---`/`+++`'s, `rename`/`copy`'s) must pass the path rule and agree with the
 * others; modes must be file modes; sizes stay within the limits above. Throws
 * PatchParseError listing every problem found.
 */
export function parsePatch(text: string, opts: PatchOptions = {}): FilePatch[] {
  const lines = text.split("\n");
  const files: FilePatch[] = [];
  const problems = new Problems();
  const counted = { hunkLines: 0 };
  let i = 0;
  // Text before the first file (a commit message, say) is not part of the diff.
  while (i < lines.length && !(lines[i] as string).startsWith("diff --git ")) i++;
  while (i < lines.length) {
    const line = lines[i] as string;
    if (line === "") {
      i++;
      continue;
    }
    if (!line.startsWith("diff --git "))
      throw new PatchParseError(`unexpected line ${i + 1} between files: ${show(line)}`);
    if (files.length >= MAX_PATCH_FILES)
      throw new PatchParseError(
        `has more than ${MAX_PATCH_FILES} files; the limit is ${MAX_PATCH_FILES} files per patch`,
      );
    const header = headerNames(line.slice("diff --git ".length));
    const label = header?.new ?? header?.old ?? line.slice("diff --git ".length);
    if (header) {
      problems.name(header.old);
      problems.name(header.new);
    }
    const file: FilePatch = { oldPath: null, newPath: null, binary: false, copy: false, hunks: [] };
    let sawNew = false;
    let sawDeleted = false;
    let renameFrom: string | undefined;
    let renameTo: string | undefined;
    let copyFrom: string | undefined;
    let copyTo: string | undefined;
    let minus: string | null | undefined;
    let plus: string | null | undefined;
    const extended = (l: string, key: string) => {
      const name = unquote(l.slice(key.length));
      if (name === null) throw new PatchParseError(`malformed quoted file name in ${show(l)}`);
      problems.name(name);
      return name;
    };

    // The extended header: modes, renames, copies, the index line.
    for (i++; i < lines.length; i++) {
      const l = lines[i] as string;
      if (
        l === "" ||
        l.startsWith("diff --git ") ||
        l.startsWith("--- ") ||
        l.startsWith("@@") ||
        l === "GIT binary patch" ||
        l.startsWith("Binary files ")
      )
        break;
      if (l.startsWith("old mode "))
        file.oldMode = checkMode(l.slice(9), label, "old mode", opts, problems);
      else if (l.startsWith("new mode "))
        file.newMode = checkMode(l.slice(9), label, "new mode", opts, problems);
      else if (l.startsWith("new file mode ")) {
        file.newMode = checkMode(l.slice(14), label, "new file mode", opts, problems);
        sawNew = true;
      } else if (l.startsWith("deleted file mode ")) {
        file.oldMode = checkMode(l.slice(18), label, "deleted file mode", opts, problems);
        sawDeleted = true;
      } else if (l.startsWith("rename from ")) renameFrom = extended(l, "rename from ");
      else if (l.startsWith("rename to ")) renameTo = extended(l, "rename to ");
      else if (l.startsWith("copy from ")) copyFrom = extended(l, "copy from ");
      else if (l.startsWith("copy to ")) copyTo = extended(l, "copy to ");
      else if (/^(dis)?similarity index \d{1,3}%$/.test(l)) continue;
      else if (l.startsWith("index ")) {
        const m = /^index ([0-9a-f]{4,40})\.\.([0-9a-f]{4,40})(?: (.*))?$/.exec(l);
        if (!m)
          throw new PatchParseError(`path ${quotePath(label)}: malformed index line ${show(l)}`);
        file.oldOid = m[1];
        file.newOid = m[2];
        if (m[3] !== undefined) {
          const mode = checkMode(m[3], label, "mode", opts, problems);
          if (!file.oldMode) file.oldMode = mode;
          if (!file.newMode) file.newMode = mode;
        }
      } else
        throw new PatchParseError(
          `path ${quotePath(label)}: unexpected line in the diff header: ${show(l)}`,
        );
    }

    // The body: a binary patch, or `---`/`+++` and hunks.
    const l = lines[i] ?? "";
    if (l === "GIT binary patch") {
      file.binary = true;
      for (i++; i < lines.length && !(lines[i] as string).startsWith("diff --git "); i++) {
        const b = lines[i] as string;
        if (b !== "" && !/^(literal|delta) \d{1,12}$/.test(b) && !BASE85_LINE.test(b))
          throw new PatchParseError(
            `path ${quotePath(label)}: malformed binary patch line ${show(b)}`,
          );
      }
    } else if (l.startsWith("Binary files ")) {
      file.binary = true;
      i++;
    } else if (l.startsWith("--- ") || l.startsWith("@@")) {
      if (l.startsWith("--- ")) {
        const next = lines[i + 1] ?? "";
        if (!next.startsWith("+++ "))
          throw new PatchParseError(`path ${quotePath(label)}: '---' line without a '+++' line`);
        minus = fileLineName(l.slice(4), "a/");
        plus = fileLineName(next.slice(4), "b/");
        if (minus !== null) problems.name(minus);
        if (plus !== null) problems.name(plus);
        i += 2;
      }
      while (i < lines.length && (lines[i] as string).startsWith("@@")) {
        if (file.hunks.length >= MAX_HUNKS_PER_FILE)
          throw new PatchParseError(
            `path ${quotePath(label)} has more than ${MAX_HUNKS_PER_FILE} hunks; the limit is ${MAX_HUNKS_PER_FILE} hunks per file`,
          );
        const read = readHunk(lines, i, label, counted);
        file.hunks.push(read.hunk);
        i = read.next;
      }
      const after = lines[i];
      if (after !== undefined && after !== "" && !after.startsWith("diff --git "))
        throw new PatchParseError(
          `path ${quotePath(label)}: unexpected line after the hunks: ${show(after)}`,
        );
    }

    settleNames(file, {
      header,
      label,
      sawNew,
      sawDeleted,
      renameFrom,
      renameTo,
      copyFrom,
      copyTo,
      minus,
      plus,
      problems,
    });
    files.push(file);
  }
  if (files.length === 0) throw new PatchParseError("not a git diff: no 'diff --git' header found");
  checkAcrossFiles(files, opts, problems);
  if (problems.list.length) throw new PatchParseError(problems.list.join("; "), problems.list);
  return files;
}

/** Reads the hunk whose header is `lines[start]`: the hunk, and the index of the line after it. */
function readHunk(
  lines: string[],
  start: number,
  label: string,
  counted: { hunkLines: number },
): { hunk: Hunk; next: number } {
  const h = lines[start] as string;
  const m = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/.exec(h);
  if (!m) throw new PatchParseError(`path ${quotePath(label)}: malformed hunk header ${show(h)}`);
  const hunk: Hunk = {
    oldStart: lineNumber(m[1] as string, label, h),
    oldCount: m[2] === undefined ? 1 : lineNumber(m[2], label, h),
    newStart: lineNumber(m[3] as string, label, h),
    newCount: m[4] === undefined ? 1 : lineNumber(m[4], label, h),
    lines: [],
  };
  let oldLeft = hunk.oldCount;
  let newLeft = hunk.newCount;
  let i = start + 1;
  for (
    ;
    i < lines.length && (oldLeft > 0 || newLeft > 0 || (lines[i] as string).startsWith("\\"));
    i++
  ) {
    const t = lines[i] as string;
    if (t.startsWith("\\")) {
      const last = hunk.lines[hunk.lines.length - 1];
      if (last) last.noEol = true;
      continue;
    }
    // An empty line is an empty context line whose space an editor trimmed.
    const op = (t[0] ?? " ") as HunkLine["op"];
    if (op !== " " && op !== "-" && op !== "+")
      throw new PatchParseError(`path ${quotePath(label)}: malformed hunk line ${show(t)}`);
    if (op !== "+") oldLeft--;
    if (op !== "-") newLeft--;
    if (oldLeft < 0 || newLeft < 0) break;
    if (++counted.hunkLines > MAX_PATCH_HUNK_LINES)
      throw new PatchParseError(
        `has more than ${MAX_PATCH_HUNK_LINES} hunk lines; the limit is ${MAX_PATCH_HUNK_LINES} per patch`,
      );
    hunk.lines.push({ op, text: t.slice(1), noEol: false });
  }
  if (oldLeft !== 0 || newLeft !== 0)
    throw new PatchParseError(`path ${quotePath(label)}: truncated hunk ${show(h)}`);
  return { hunk, next: i };
}

/**
 * Decides a file's old and new names from everything that names them, and records every
 * disagreement: a header that says one thing while `---`/`+++` or `rename` say another is
 * exactly how a patch would smuggle a path past a check.
 */
function settleNames(
  file: FilePatch,
  n: {
    header: { old: string; new: string } | null;
    label: string;
    sawNew: boolean;
    sawDeleted: boolean;
    renameFrom?: string;
    renameTo?: string;
    copyFrom?: string;
    copyTo?: string;
    minus?: string | null;
    plus?: string | null;
    problems: Problems;
  },
): void {
  const { header, label, problems } = n;
  const renamed = n.renameFrom !== undefined || n.renameTo !== undefined;
  const copied = n.copyFrom !== undefined || n.copyTo !== undefined;
  if (renamed && (n.renameFrom === undefined || n.renameTo === undefined))
    problems.add(label, "has only one of 'rename from' and 'rename to'");
  if (copied && (n.copyFrom === undefined || n.copyTo === undefined))
    problems.add(label, "has only one of 'copy from' and 'copy to'");
  if (renamed && copied) problems.add(label, "is both renamed and copied");
  if (n.sawNew && n.sawDeleted) problems.add(label, "is both a new and a deleted file");
  if ((renamed || copied) && (n.sawNew || n.sawDeleted))
    problems.add(label, "is renamed or copied and also new or deleted");

  let oldName = n.renameFrom ?? n.copyFrom ?? header?.old ?? n.minus ?? undefined;
  let newName = n.renameTo ?? n.copyTo ?? header?.new ?? n.plus ?? undefined;
  const agree = (what: string, named: string | undefined, expected: string | undefined) => {
    if (named !== undefined && expected !== undefined && named !== expected)
      problems.add(expected, `is named ${quotePath(named)} by its ${what}`);
  };
  if (header) {
    agree("'rename from' line", n.renameFrom, header.old);
    agree("'rename to' line", n.renameTo, header.new);
    agree("'copy from' line", n.copyFrom, header.old);
    agree("'copy to' line", n.copyTo, header.new);
  }
  agree("'---' line", n.minus ?? undefined, oldName);
  agree("'+++' line", n.plus ?? undefined, newName);
  if (n.minus === null && !n.sawNew)
    problems.add(label, "has '--- /dev/null' but is not a new file");
  if (n.plus === null && !n.sawDeleted)
    problems.add(label, "has '+++ /dev/null' but is not a deleted file");
  if (n.sawNew && typeof n.minus === "string")
    problems.add(label, "is a new file with an old name on its '---' line");
  if (n.sawDeleted && typeof n.plus === "string")
    problems.add(label, "is a deleted file with a new name on its '+++' line");
  if (!renamed && !copied && oldName !== undefined && newName !== undefined && oldName !== newName)
    problems.add(
      newName,
      `is named ${quotePath(oldName)} on the old side without a 'rename' or 'copy' line`,
    );
  if (n.sawNew) oldName = undefined;
  if (n.sawDeleted) newName = undefined;
  if (oldName === undefined && newName === undefined)
    throw new PatchParseError(`cannot tell the file names in: diff --git ${show(label)}`);
  file.oldPath = oldName ?? null;
  file.newPath = newName ?? null;
  file.copy = copied;
}

/**
 * What no single file shows: a path written twice, a path that is both a file and a
 * directory, a symlink this patch creates and then writes through, git's special files.
 */
function checkAcrossFiles(files: FilePatch[], opts: PatchOptions, problems: Problems): void {
  const written = new Map<string, FilePatch>();
  const consumed = new Set<string>();
  for (const f of files) {
    if (f.newPath !== null) {
      if (written.has(f.newPath)) problems.add(f.newPath, "is written twice in one patch");
      written.set(f.newPath, f);
    }
    if (f.oldPath !== null && !f.copy) {
      if (consumed.has(f.oldPath)) problems.add(f.oldPath, "is changed twice in one patch");
      consumed.add(f.oldPath);
    }
  }
  for (const [p, f] of written) {
    const parts = p.split("/");
    for (let k = 1; k < parts.length; k++) {
      const parent = parts.slice(0, k).join("/");
      const above = written.get(parent);
      if (!above) continue;
      if (above.newMode === "120000")
        problems.add(p, `is written through the symlink ${quotePath(parent)} this patch creates`);
      else problems.add(parent, `is both a file and a directory in this patch (${quotePath(p)})`);
    }
    const special = specialGitFile(parts[parts.length - 1] as string);
    if (special && f.newMode === "120000")
      problems.add(p, `would make ${special} a symlink, which git refuses to check out`);
    if (special === ".gitmodules" && !opts.allowSubmodules)
      problems.add(p, "configures submodules; Hyperion does not support submodules");
  }
}

/** Every path a patch reads or writes, sorted. */
export function patchPaths(files: FilePatch[]): string[] {
  const paths = new Set<string>();
  for (const f of files) {
    if (f.oldPath !== null) paths.add(f.oldPath);
    if (f.newPath !== null) paths.add(f.newPath);
  }
  return [...paths].sort();
}

export class HunkConflict extends Error {
  override name = "HunkConflict";
  constructor(
    readonly path: string,
    reason?: string,
  ) {
    super(`patch does not apply to ${path}${reason ? `: ${reason}` : ""}`);
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

/**
 * Applies a file's hunks to its text like `git apply` without fuzz: each hunk's old lines must
 * match exactly, at the expected line or the nearest place after the previous hunk. The search
 * starts within the file whatever the header claims and gives up after
 * MAX_HUNK_SEARCH_COMPARISONS line comparisons, so no hunk header can make it spin.
 */
export function applyHunks(
  path: string,
  text: string,
  hunks: Hunk[],
  budget = MAX_HUNK_SEARCH_COMPARISONS,
): string {
  const orig = toLines(text);
  const out: string[] = [];
  let cursor = 0;
  let offset = 0;
  let eofNewline = orig.eofNewline;
  let comparisons = 0;
  const matchesAt = (at: number, old: string[]) => {
    if (at < cursor || at + old.length > orig.lines.length) return false;
    for (let k = 0; k < old.length; k++) {
      comparisons++;
      if (orig.lines[at + k] !== old[k]) return false;
    }
    return true;
  };
  for (const [n, hunk] of hunks.entries()) {
    const old = hunk.lines.filter((l) => l.op !== "+").map((l) => l.text);
    const neu = hunk.lines.filter((l) => l.op !== "-");
    const start = hunk.oldCount === 0 ? hunk.oldStart : hunk.oldStart - 1;
    const last = orig.lines.length - old.length;
    if (last < cursor) throw new HunkConflict(path, `hunk ${n + 1} is longer than what is left`);
    const expected = Math.min(Math.max(cursor, start + offset), last);
    let at = -1;
    for (let d = 0; at < 0 && (expected - d >= cursor || expected + d <= last); d++) {
      if (comparisons > budget)
        throw new HunkConflict(
          path,
          `gave up looking for where hunk ${n + 1} applies after ${budget} line comparisons`,
        );
      if (matchesAt(expected + d, old)) at = expected + d;
      else if (d > 0 && matchesAt(expected - d, old)) at = expected - d;
    }
    if (at < 0) throw new HunkConflict(path);
    const oldNoEol = hunk.lines.some((l) => l.op !== "+" && l.noEol);
    const reachesEnd = at + old.length === orig.lines.length;
    if (oldNoEol && (!reachesEnd || orig.eofNewline)) throw new HunkConflict(path);
    out.push(...orig.lines.slice(cursor, at), ...neu.map((l) => l.text));
    cursor = at + old.length;
    offset = at - start;
    if (reachesEnd) eofNewline = !neu.some((l) => l.noEol);
  }
  out.push(...orig.lines.slice(cursor));
  return fromLines({ lines: out, eofNewline });
}
