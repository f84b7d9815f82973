import { type Hunk, MAX_HUNK_SEARCH_COMPARISONS } from "./patch-format";

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
