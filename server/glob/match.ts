import { type GlobSegment, parseGlob, type Token } from "./parse";

/**
 * Glob matching in O(glob × path) time whatever the input: no regular expression is built from
 * a glob, so no backtracking can blow up. Within a segment the classic two-pointer wildcard
 * match (on a mismatch, resume after the last `*`); across segments `**` is matched by dynamic
 * programming over the path's segments. Dotfiles match like any other name (picomatch's `dot`).
 */
export function compileGlob(glob: string): (path: string) => boolean {
  const parsed = parseGlob(glob);
  if (!parsed.ok) throw new Error(`Invalid glob: ${parsed.problem}`);
  const { segments } = parsed;
  return (path) =>
    matchSegments(
      segments,
      path.split("/").map((part) => Array.from(part)),
    );
}

/** A matcher for any of several globs. */
export function compileGlobs(globs: readonly string[]): (path: string) => boolean {
  const matchers = globs.map(compileGlob);
  return (path) => matchers.some((m) => m(path));
}

function matchSegments(pattern: readonly GlobSegment[], parts: readonly string[][]): boolean {
  // reach[j]: the pattern so far matches exactly the first j segments of the path.
  let reach = new Array<boolean>(parts.length + 1).fill(false);
  reach[0] = true;
  for (const seg of pattern) {
    const next = new Array<boolean>(parts.length + 1).fill(false);
    if (seg.kind === "globstar") {
      let any = false;
      for (let j = 0; j <= parts.length; j++) {
        any ||= reach[j] === true;
        next[j] = any;
      }
    } else {
      for (let j = 0; j < parts.length; j++) {
        if (reach[j] && matchSegment(seg.tokens, parts[j] ?? [])) next[j + 1] = true;
      }
    }
    reach = next;
  }
  return reach[parts.length] === true;
}

function matchSegment(tokens: readonly Token[], text: readonly string[]): boolean {
  if (text.length === 0) return false;
  let t = 0;
  let s = 0;
  let starT = -1;
  let starS = 0;
  while (s < text.length) {
    const token = tokens[t];
    if (token?.kind === "star") {
      starT = t++;
      starS = s;
    } else if (token && matchesOne(token, text[s] as string)) {
      t++;
      s++;
    } else if (starT >= 0) {
      t = starT + 1;
      s = ++starS;
    } else return false;
  }
  while (tokens[t]?.kind === "star") t++;
  return t === tokens.length;
}

function matchesOne(token: Exclude<Token, { kind: "star" }>, char: string): boolean {
  const code = char.codePointAt(0) ?? 0;
  if (token.kind === "class") {
    const hit = token.ranges.some(([lo, hi]) => code >= lo && code <= hi);
    return hit !== token.negated;
  }
  return token.kind === "any" || token.code === code;
}
