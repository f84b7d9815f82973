import { quotePath, repoPathProblem } from "@/schemas/paths";

export const GLOB_MAX_LENGTH = 256;
export const GLOB_MAX_SEGMENTS = 32;

export type CharClass = { kind: "class"; negated: boolean; ranges: [number, number][] };
export type Token = { kind: "star" } | { kind: "any" } | { kind: "char"; code: number } | CharClass;
/** A path segment of a glob: `**` (any number of segments) or tokens matching one segment. */
export type GlobSegment = { kind: "globstar" } | { kind: "tokens"; tokens: Token[] };

export type ParsedGlob = { ok: true; segments: GlobSegment[] } | { ok: false; problem: string };

/**
 * Parses an area glob. Supported: `*`, `?`, `**` as a whole segment, and classes `[abc]`,
 * `[a-z]`, `[!x]`. Everything picomatch would read as more (braces, extglobs, groups, leading
 * `!`) is refused rather than taken literally, so a glob never silently means something else.
 */
export function parseGlob(glob: string): ParsedGlob {
  const problem = (text: string): ParsedGlob => ({ ok: false, problem: `${show(glob)} ${text}` });
  if (glob.length === 0) return problem("is empty");
  if (glob.length > GLOB_MAX_LENGTH)
    return problem(`is ${glob.length} characters long; the limit is ${GLOB_MAX_LENGTH}`);
  if (glob.startsWith("!"))
    return problem("starts with '!': negated globs are not supported; list what the area holds");
  if (/[{}]/.test(glob))
    return problem("uses braces: '{a,b}' is not supported; list each alternative as its own glob");
  if (/[()|]/.test(glob))
    return problem(
      "uses '(', ')' or '|': extglobs and groups are not supported; list each alternative as its own glob",
    );
  const pathProblem = repoPathProblem(glob);
  if (pathProblem) return problem(pathProblem);
  const parts = glob.split("/");
  if (parts.length > GLOB_MAX_SEGMENTS)
    return problem(`has ${parts.length} segments; the limit is ${GLOB_MAX_SEGMENTS}`);
  const segments: GlobSegment[] = [];
  for (const part of parts) {
    if (part === "**") {
      segments.push({ kind: "globstar" });
      continue;
    }
    if (part.includes("**")) return problem("uses '**' inside a segment; '**' must stand alone");
    const tokens = parseSegment(part);
    if (typeof tokens === "string") return problem(tokens);
    segments.push({ kind: "tokens", tokens });
  }
  return { ok: true, segments };
}

/** Why a glob cannot be an area glob, naming the glob; undefined when it can. */
export function globProblem(glob: string): string | undefined {
  const parsed = parseGlob(glob);
  return parsed.ok ? undefined : parsed.problem;
}

function parseSegment(part: string): Token[] | string {
  const chars = Array.from(part);
  const tokens: Token[] = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c === "*") tokens.push({ kind: "star" });
    else if (c === "?") tokens.push({ kind: "any" });
    else if (c === "]") return "has a ']' without its '['";
    else if (c === "[") {
      const end = chars.indexOf("]", i + 1);
      if (end < 0) return "has a '[' without its ']'";
      const cls = parseClass(chars.slice(i + 1, end));
      if (typeof cls === "string") return cls;
      tokens.push(cls);
      i = end;
    } else tokens.push({ kind: "char", code: c.codePointAt(0) ?? 0 });
  }
  return tokens;
}

function parseClass(body: string[]): CharClass | string {
  let i = 0;
  let negated = false;
  if (body[0] === "!") {
    negated = true;
    i = 1;
  } else if (body[0] === "^") return "negates a class with '^'; write '[!…]'";
  if (i >= body.length) return "has an empty class '[]'";
  const ranges: [number, number][] = [];
  while (i < body.length) {
    const c = body[i] as string;
    if (c === "[") return "has a '[' inside a class; POSIX classes are not supported";
    const lo = c.codePointAt(0) ?? 0;
    const hiChar = body[i + 2];
    if (body[i + 1] === "-" && hiChar !== undefined) {
      const hi = hiChar.codePointAt(0) ?? 0;
      if (hi < lo) return `has a reversed range '${c}-${hiChar}'`;
      ranges.push([lo, hi]);
      i += 3;
    } else {
      ranges.push([lo, lo]);
      i += 1;
    }
  }
  return { kind: "class", negated, ranges };
}

function show(glob: string): string {
  return quotePath(glob.length > 60 ? `${glob.slice(0, 60)}…` : glob);
}
