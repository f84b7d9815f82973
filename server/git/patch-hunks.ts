import { quotePath } from "@/schemas/paths";
import {
  type Hunk,
  type HunkLine,
  MAX_LINE_NUMBER,
  MAX_PATCH_HUNK_LINES,
  PatchParseError,
} from "./patch-format";
import { show } from "./patch-names";

// One hunk of a file's body: its header's line numbers (each within MAX_LINE_NUMBER) and its
// lines, counted against the patch's MAX_PATCH_HUNK_LINES.

function lineNumber(digits: string, path: string, header: string): number {
  const n = digits.length > 12 ? Number.POSITIVE_INFINITY : Number(digits);
  if (!Number.isSafeInteger(n) || n > MAX_LINE_NUMBER)
    throw new PatchParseError(
      `path ${quotePath(path)}: hunk header ${show(header)} names line ${digits.length > 20 ? `${digits.slice(0, 20)}…` : digits}; the limit is ${MAX_LINE_NUMBER}`,
    );
  return n;
}

/** Reads the hunk whose header is `lines[start]`: the hunk, and the index of the line after it. */
export function readHunk(
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
