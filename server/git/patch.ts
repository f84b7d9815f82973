import { quotePath } from "@/schemas/paths";
import {
  type FilePatch,
  MAX_HUNKS_PER_FILE,
  MAX_PATCH_FILES,
  type PatchOptions,
  PatchParseError,
} from "./patch-format";
import { readHunk } from "./patch-hunks";
import {
  fileLineName,
  headerNames,
  type NameSources,
  settleNames,
  show,
  unquote,
} from "./patch-names";
import { checkAcrossFiles, checkMode, Problems } from "./patch-problems";

// What a caller of parsePatch handles: what it returns, what it takes, what it throws.
export type { FilePatch, PatchOptions } from "./patch-format";
export { PatchParseError } from "./patch-format";

const BASE85_LINE = /^[A-Za-z][0-9A-Za-z!#$%&()*+\-;<=>?@^_`{|}~]+$/;

/**
 * Parses and checks a patch as `git diff --binary --full-index` writes it: new, deleted,
 * renamed and copied files, mode changes and binary files. Every name (the `diff --git`
 * header's, `---`/`+++`'s, `rename`/`copy`'s) must pass the path rule and agree with the
 * others; modes must be file modes; sizes stay within the limits of patch-format.ts. Throws
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
    const read = readFile(lines, i, opts, problems, counted);
    files.push(read.file);
    i = read.next;
  }
  if (files.length === 0) throw new PatchParseError("not a git diff: no 'diff --git' header found");
  checkAcrossFiles(files, opts, problems);
  if (problems.list.length) throw new PatchParseError(problems.list.join("; "), problems.list);
  return files;
}

/** Reads the file whose `diff --git` line is `lines[start]`: its header, its body, its names. */
function readFile(
  lines: string[],
  start: number,
  opts: PatchOptions,
  problems: Problems,
  counted: { hunkLines: number },
): { file: FilePatch; next: number } {
  const line = lines[start] as string;
  const header = headerNames(line.slice("diff --git ".length));
  const label = header?.new ?? header?.old ?? line.slice("diff --git ".length);
  if (header) {
    problems.name(header.old);
    problems.name(header.new);
  }
  const file: FilePatch = { oldPath: null, newPath: null, binary: false, copy: false, hunks: [] };
  const names: NameSources = { header, label, sawNew: false, sawDeleted: false, problems };
  let i = readExtendedHeader(lines, start + 1, file, names, opts);
  i = readBody(lines, i, file, names, counted);
  settleNames(file, names);
  return { file, next: i };
}

/**
 * The extended header: modes, renames, copies, the index line. Returns the index of the first
 * line after it.
 */
function readExtendedHeader(
  lines: string[],
  start: number,
  file: FilePatch,
  names: NameSources,
  opts: PatchOptions,
): number {
  const { label, problems } = names;
  const extended = (l: string, key: string) => {
    const name = unquote(l.slice(key.length));
    if (name === null) throw new PatchParseError(`malformed quoted file name in ${show(l)}`);
    problems.name(name);
    return name;
  };
  let i = start;
  for (; i < lines.length; i++) {
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
      names.sawNew = true;
    } else if (l.startsWith("deleted file mode ")) {
      file.oldMode = checkMode(l.slice(18), label, "deleted file mode", opts, problems);
      names.sawDeleted = true;
    } else if (l.startsWith("rename from ")) names.renameFrom = extended(l, "rename from ");
    else if (l.startsWith("rename to ")) names.renameTo = extended(l, "rename to ");
    else if (l.startsWith("copy from ")) names.copyFrom = extended(l, "copy from ");
    else if (l.startsWith("copy to ")) names.copyTo = extended(l, "copy to ");
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
  return i;
}

/**
 * The body: a binary patch, or `---`/`+++` and hunks. Returns the index of the first line after
 * it.
 */
function readBody(
  lines: string[],
  start: number,
  file: FilePatch,
  names: NameSources,
  counted: { hunkLines: number },
): number {
  const { label, problems } = names;
  let i = start;
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
      names.minus = fileLineName(l.slice(4), "a/");
      names.plus = fileLineName(next.slice(4), "b/");
      if (names.minus !== null) problems.name(names.minus);
      if (names.plus !== null) problems.name(names.plus);
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
  return i;
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
