import { RE2JS, RE2JSException } from "re2js";
import { parseDocument } from "yaml";
import type { Policy } from "@/schemas/policy";
import { requestedCheckIssues } from "@/server/checks/checks";

/**
 * A repository's plan file (policy `plan`, such as WORKPLAN.md), after the seed's
 * workplan-approved.md: a "## Plan Metadata" block that names an approval pattern, the required
 * `## ` sections and a validation policy (check names), or the same in YAML front matter
 * (`approval_pattern`, `required_sections`, `validation`). Parsing is pure: the text in, every
 * problem out, each naming the file and, where there is one, the line.
 */

/** A plan file larger than this is refused, unread. */
export const PLAN_MAX_BYTES = 1024 * 1024;

export type PlanMeta = {
  approvalPattern: string;
  requiredSections: string[];
  /** The policy checks the plan names (its validation policy). */
  validation: string[];
  /** Where the metadata came from. */
  from: "metadata" | "front matter";
};

/** What a plan file says, or why it cannot be used: problems[0] is the one the gate shows. */
export type ParsedPlan = {
  meta: PlanMeta | null;
  /** The `## ` sections, in order, with their 1-based lines. */
  sections: { name: string; line: number }[];
  /** The first line the approval pattern matches (1-based), or null. */
  approvedAt: number | null;
  /** Each with what to do about it. Empty: the plan opens the gate (pending an admin's approval). */
  problems: { message: string; fix: string }[];
};

/**
 * The first byte that is not valid UTF-8 (overlongs, surrogates and code points past U+10FFFF
 * included), or -1 when every byte is.
 */
export function invalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    let cp: number;
    if (b >= 0xc2 && b <= 0xdf) [need, min, cp] = [1, 0x80, b & 0x1f];
    else if (b >= 0xe0 && b <= 0xef) [need, min, cp] = [2, 0x800, b & 0x0f];
    else if (b >= 0xf0 && b <= 0xf4) [need, min, cp] = [3, 0x10000, b & 0x07];
    else return i;
    // Fewer continuation bytes left than the lead byte needs.
    if (i + need >= bytes.length) return i;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k] as number;
      if ((c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

/** Why the bytes cannot be a plan at all (size, encoding), or null: checked before parsing. */
export function planBytesProblem(
  file: string,
  size: number,
  bytes: Uint8Array | null,
  limit = PLAN_MAX_BYTES,
): { message: string; fix: string } | null {
  if (size > limit)
    return {
      message: `${file} is ${size} bytes; the limit is ${limit} bytes`,
      fix: `shorten ${file} below ${limit} bytes and land the change`,
    };
  if (!bytes) return null;
  const bad = invalidUtf8Offset(bytes);
  if (bad >= 0) {
    let line = 1;
    for (let i = 0; i < bad; i++) if (bytes[i] === 0x0a) line++;
    return {
      message: `${file} is not valid UTF-8: byte ${bad} (line ${line}) is 0x${(bytes[bad] as number).toString(16).padStart(2, "0")}`,
      fix: `save ${file} as UTF-8 and land the change`,
    };
  }
  return null;
}

/** A heading `## Name` (not `###`), outside fenced code blocks, with its line. */
function sectionsOf(lines: string[]): { name: string; line: number }[] {
  const out: { name: string; line: number }[] = [];
  let fence: string | null = null;
  lines.forEach((raw, i) => {
    const fenceMark = /^\s{0,3}(`{3,}|~{3,})/.exec(raw)?.[1];
    if (fenceMark) {
      if (fence === null) fence = fenceMark[0] as string;
      else if (fenceMark[0] === fence) fence = null;
      return;
    }
    if (fence !== null) return;
    const m = /^## +(.+?)\s*#*\s*$/.exec(raw);
    if (m?.[1]) out.push({ name: m[1].trim(), line: i + 1 });
  });
  return out;
}

const list = (value: string, sep: string) =>
  value
    .split(sep)
    .map((s) => s.trim())
    .filter(Boolean);

/** The metadata block's three lines, with the line each was on. */
function metadataBlock(
  file: string,
  lines: string[],
  sections: { name: string; line: number }[],
): { meta: PlanMeta } | { problem: { message: string; fix: string } } {
  const at = sections.find((s) => s.name.toLowerCase() === "plan metadata");
  if (!at)
    return {
      problem: {
        message: `${file} has no '## Plan Metadata' section (or YAML front matter)`,
        fix: `add '## Plan Metadata' with 'Approval pattern:', 'Required sections:' and 'Validation policy:' lines`,
      },
    };
  const next = sections.find((s) => s.line > at.line)?.line ?? lines.length + 1;
  const body = lines.slice(at.line, next - 1);
  const field = (label: string): string | null => {
    for (const l of body) {
      const m = new RegExp(`^\\s*${label}:(.*)$`, "i").exec(l);
      if (m) return (m[1] ?? "").trim();
    }
    return null;
  };
  const pattern = field("Approval pattern");
  const required = field("Required sections");
  const validation = field("Validation policy");
  const missing = [
    pattern === null || pattern === "" ? "Approval pattern" : null,
    required === null ? "Required sections" : null,
  ].filter((x): x is string => x !== null);
  if (missing.length)
    return {
      problem: {
        message: `${file}: '## Plan Metadata' (line ${at.line}) has no '${missing[0]}:' line`,
        fix: `add '${missing[0]}: …' under '## Plan Metadata'`,
      },
    };
  return {
    meta: {
      approvalPattern: pattern as string,
      requiredSections: list(required as string, ","),
      validation: list(validation ?? "", ";"),
      from: "metadata",
    },
  };
}

/** YAML front matter: `---` on the first line, up to the next `---` line. */
function frontMatter(
  file: string,
  lines: string[],
): { meta: PlanMeta; end: number } | { problem: { message: string; fix: string } } | null {
  if (lines[0]?.trimEnd() !== "---") return null;
  const end = lines.findIndex((l, i) => i > 0 && /^(---|\.\.\.)\s*$/.test(l));
  if (end < 0)
    return {
      problem: {
        message: `${file}: the front matter opened on line 1 is never closed with '---'`,
        fix: "close the front matter with a '---' line",
      },
    };
  const doc = parseDocument(lines.slice(1, end).join("\n"), {
    uniqueKeys: true,
    prettyErrors: false,
  });
  const error = doc.errors[0];
  if (error) {
    const line = (error.linePos?.[0]?.line ?? 0) + 1;
    return {
      problem: {
        message: `${file}: the front matter is not valid YAML (line ${line}): ${error.message.split("\n")[0]}`,
        fix: "fix the front matter's YAML",
      },
    };
  }
  const data = doc.toJS({ maxAliasCount: 0 }) as unknown;
  const obj = (data && typeof data === "object" && !Array.isArray(data) ? data : {}) as Record<
    string,
    unknown
  >;
  const strings = (key: string, sep: string): string[] | string => {
    const v = obj[key];
    if (v === undefined || v === null) return [];
    if (typeof v === "string") return list(v, sep);
    if (Array.isArray(v) && v.every((x) => typeof x === "string"))
      return v.map((x) => x.trim()).filter(Boolean);
    return `'${key}' must be a list of strings or one '${sep}'-separated string`;
  };
  const pattern = obj.approval_pattern;
  if (typeof pattern !== "string" || pattern.trim() === "")
    return {
      problem: {
        message: `${file}: the front matter has no 'approval_pattern' (a string)`,
        fix: "add approval_pattern: '^Approved:[[:space:]]+yes$' to the front matter",
      },
    };
  const required = strings("required_sections", ",");
  const validation = strings("validation", ";");
  for (const v of [required, validation])
    if (typeof v === "string")
      return { problem: { message: `${file}: the front matter's ${v}`, fix: "fix that key" } };
  return {
    meta: {
      approvalPattern: pattern.trim(),
      requiredSections: required as string[],
      validation: validation as string[],
      from: "front matter",
    },
    end,
  };
}

/**
 * The words a person would use for the line a pattern asks for: `^Approved:[[:space:]]+yes$`
 * reads 'Approved: yes'. A pattern with other regex syntax is shown as it is.
 */
export function approvalLineWords(pattern: string): string {
  const plain = pattern
    .replace(/^\^/, "")
    .replace(/\$$/, "")
    .replace(/\[\[:space:\]\][+*]|\\s[+*]|\[ \\t\][+*]| [+*]/g, " ");
  return /[\\^$.|?*+()[\]{}]/.test(plain)
    ? `line matching the approval pattern ${pattern}`
    : `'${plain}' line`;
}

/**
 * Parses a plan's text and checks it against the repository's policy: every problem the gate
 * would name, in order (metadata, repeated sections, missing sections, the validation policy's
 * check names, the approval pattern and a line it matches).
 */
export function parsePlan(file: string, text: string, policy: Policy, repo: string): ParsedPlan {
  const lines = text.split(/\r?\n/);
  const problems: ParsedPlan["problems"] = [];
  const front = frontMatter(file, lines);
  const bodyStart = front && "meta" in front ? front.end + 1 : 0;
  const sections = sectionsOf(lines.slice(bodyStart)).map((s) => ({
    ...s,
    line: s.line + bodyStart,
  }));
  const found = front ?? metadataBlock(file, lines, sections);
  if ("problem" in found)
    return { meta: null, sections, approvedAt: null, problems: [found.problem] };
  const meta = found.meta;

  const seen = new Map<string, number[]>();
  for (const s of sections) seen.set(s.name, [...(seen.get(s.name) ?? []), s.line]);
  for (const [name, at] of seen)
    if (at.length > 1)
      problems.push({
        message: `${file}: section '${name}' is repeated (lines ${at.join(", ")})`,
        fix: `keep one '## ${name}' section`,
      });
  for (const name of meta.requiredSections)
    if (!seen.has(name))
      problems.push({
        message: `${file}: section '${name}' is missing`,
        fix: `add a '## ${name}' section to ${file} and land the change`,
      });
  for (const issue of requestedCheckIssues(policy, repo, meta.validation))
    problems.push({
      message: `${file}: validation policy: ${issue.message}`,
      fix: "name the policy's checks, ';'-separated; only the policy defines commands",
    });

  let approvedAt: number | null = null;
  let compiled: RE2JS | null = null;
  try {
    // RE2: linear time, whatever the pattern (no backtracking); POSIX classes work.
    compiled = RE2JS.compile(meta.approvalPattern);
  } catch (err) {
    if (!(err instanceof RE2JSException)) throw err;
    problems.push({
      message: `${file}: the approval pattern ${meta.approvalPattern} is not a valid RE2 pattern: ${err.message}`,
      fix: "write the approval pattern in RE2 syntax (no lookarounds or backreferences)",
    });
  }
  if (compiled) {
    for (let i = bodyStart; i < lines.length; i++) {
      if (compiled.test(lines[i] as string)) {
        approvedAt = i + 1;
        break;
      }
    }
    if (approvedAt === null)
      problems.push({
        message: `${file} has no ${approvalLineWords(meta.approvalPattern)}`,
        fix: `add the approval line to ${file} once the plan is agreed, and land the change`,
      });
  }
  return { meta, sections, approvedAt, problems };
}
