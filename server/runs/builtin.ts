import { TASK_ID } from "@/schemas/change-request";
import { blobOid } from "@/server/git/objects";

const COMMENT: Record<string, [string, string]> = {
  js: ["// ", ""],
  mjs: ["// ", ""],
  cjs: ["// ", ""],
  ts: ["// ", ""],
  tsx: ["// ", ""],
  jsx: ["// ", ""],
  go: ["// ", ""],
  rs: ["// ", ""],
  java: ["// ", ""],
  c: ["// ", ""],
  h: ["// ", ""],
  cpp: ["// ", ""],
  py: ["# ", ""],
  sh: ["# ", ""],
  yml: ["# ", ""],
  yaml: ["# ", ""],
  toml: ["# ", ""],
  rb: ["# ", ""],
  md: ["<!-- ", " -->"],
  html: ["<!-- ", " -->"],
  css: ["/* ", " */"],
};

/**
 * The built-in developer's note: the task id and a fixed sentence, nothing a person wrote. Task
 * ids are Hyperion's own, but checked here too, since the note becomes file content.
 */
export function builtinNote(taskId: string): string {
  if (!TASK_ID.test(taskId)) throw new Error("task id is not safe to write into a file");
  return `Hyperion note (task ${taskId}): change made by the built-in developer.`;
}

export function noteLine(path: string, note: string): string | null {
  const ext = path.split(".").pop()?.toLowerCase() ?? "";
  const style = COMMENT[ext];
  if (!style) return null;
  // Only printable ASCII, and nothing that could close any of the comment styles above.
  if (!/^[\x20-\x7e]*$/.test(note) || /-->|--!>|\*\/|\n/.test(note))
    throw new Error("a built-in note must be plain ASCII that cannot close a comment");
  return `${style[0]}${note}${style[1]}`;
}

/**
 * The built-in deterministic developer's edit to one file: a clearly marked note appended (or,
 * for a file that does not exist yet, the file created with it), as a `git diff --full-index`
 * patch. Null when it cannot edit the file safely (JSON, unknown formats).
 */
export function appendNotePatch(
  path: string,
  before: { content: string; oid: string; mode: string } | null,
  note: string,
): string | null {
  const line = noteLine(path, note);
  if (line === null) return null;
  if (!before) {
    const content = path.endsWith(".md") ? `# Hyperion note\n\n${line}\n` : `${line}\n`;
    const added = content.slice(0, -1).split("\n");
    return [
      `diff --git a/${path} b/${path}`,
      "new file mode 100644",
      `index ${"0".repeat(40)}..${blobOid(Buffer.from(content))}`,
      "--- /dev/null",
      `+++ b/${path}`,
      `@@ -0,0 +1,${added.length} @@`,
      ...added.map((l) => `+${l}`),
      "",
    ].join("\n");
  }
  const text = before.content;
  const endsWithNewline = text === "" || text.endsWith("\n");
  const lines = text === "" ? [] : (endsWithNewline ? text.slice(0, -1) : text).split("\n");
  const after = `${text}${endsWithNewline ? "" : "\n"}${line}\n`;
  const k = Math.min(3, lines.length);
  const start = lines.length - k + 1;
  const context = lines.slice(lines.length - k);
  const body: string[] = [];
  if (endsWithNewline) {
    body.push(...context.map((l) => ` ${l}`), `+${line}`);
  } else {
    body.push(
      ...context.slice(0, -1).map((l) => ` ${l}`),
      `-${context[context.length - 1] ?? ""}`,
      "\\ No newline at end of file",
      `+${context[context.length - 1] ?? ""}`,
      `+${line}`,
    );
  }
  const header = lines.length === 0 ? "@@ -0,0 +1 @@" : `@@ -${start},${k} +${start},${k + 1} @@`;
  return [
    `diff --git a/${path} b/${path}`,
    `index ${before.oid}..${blobOid(Buffer.from(after))} ${before.mode}`,
    `--- a/${path}`,
    `+++ b/${path}`,
    header,
    ...body,
    "",
  ].join("\n");
}
