import type { FieldIssue } from "@/schemas/issues";
import { quotePath } from "@/schemas/paths";

const MAX_LINES = 50;
const MAX_PATH_CHARS = 120;
const MAX_MESSAGE_CHARS = 300;
const ECHO = 6;

/** A file's name as an error file shows it: quoted, control characters spelled out. */
export function shownName(name: string): string {
  return quotePath(name.length > MAX_PATH_CHARS ? `${name.slice(0, MAX_PATH_CHARS)}…` : name);
}

/**
 * The lines of an error file for input that failed validation: each field's path and message.
 * A message never carries the file's text: where one repeats the value it is about ("unknown
 * repository '…'"), every run of six or more characters it shares with that value is cut out.
 */
export function issueLines(issues: readonly FieldIssue[], input: unknown): string[] {
  const lines = issues.slice(0, MAX_LINES).map((issue) => {
    const message = clip(issue.message, MAX_MESSAGE_CHARS);
    const value = valueAt(input, issue.path);
    const shown = typeof value === "string" ? withoutEcho(message, value) : message;
    return `  ${printable(clip(issue.path, MAX_PATH_CHARS))}: ${printable(shown)}`;
  });
  if (issues.length > MAX_LINES) lines.push(`  … and ${issues.length - MAX_LINES} more`);
  return lines;
}

/** The value at a path as `formatPath` writes it (`[0].files[2]`), if it can be followed. */
function valueAt(input: unknown, path: string): unknown {
  if (path === "(root)") return input;
  let value = input;
  for (const [, index, key] of path.matchAll(/\[(\d+)\]|([^.[\]]+)/g)) {
    if (value === null || typeof value !== "object") return undefined;
    const step = index !== undefined ? Number(index) : key;
    if (step === undefined || !Object.hasOwn(value, step)) return undefined;
    value = (value as Record<string | number, unknown>)[step];
  }
  return value;
}

/** The message with every stretch it shares with `value` (four characters or more) cut out. */
function withoutEcho(message: string, value: string): string {
  if (message.length < ECHO || value.length < ECHO) return message;
  // At most MAX_MESSAGE_CHARS searches, each linear in the value: bounded by the file's size.
  const echoed = new Array<boolean>(message.length).fill(false);
  for (let i = 0; i + ECHO <= message.length; i++) {
    if (value.includes(message.slice(i, i + ECHO))) echoed.fill(true, i, i + ECHO);
  }
  let out = "";
  for (let i = 0; i < message.length; i++) {
    if (!echoed[i]) out += message[i];
    else if (!echoed[i - 1]) out += "…";
  }
  return out;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function printable(text: string): string {
  return text.replace(
    /[\p{Cc}\p{Cf}]/gu,
    (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`,
  );
}
