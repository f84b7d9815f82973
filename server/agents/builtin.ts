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

export function noteLine(path: string, text: string): string | null {
  const ext = path.split(".").pop()?.toLowerCase() ?? "";
  const style = COMMENT[ext];
  if (!style) return null;
  const clean = text
    .replace(/[\r\n]+/g, " ")
    .replace(/-->|\*\//g, "")
    .slice(0, 300);
  return `${style[0]}${clean}${style[1]}`;
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
    const content = path.endsWith(".md")
      ? `# ${note.replace(/[\r\n]+/g, " ").slice(0, 200)}\n\n${line}\n`
      : `${line}\n`;
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
