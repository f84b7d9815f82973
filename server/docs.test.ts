import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

// The documents stay true to the tree: every repository path a document names in backticks
// (`server/queue/land.ts`, `docs/deploy.md`, `app/(app)/error.tsx`, `drizzle/pg/`) must exist.
// Placeholders and globs (`e2e/<spec>.spec.ts`, `server/git/patch*.ts`, `schemas/json/*.json`)
// are skipped: they name a family of files, not one.

const ROOT = path.resolve(import.meta.dirname, "..");

/** The folders whose paths are checked: what the repository holds, not what an install makes. */
const TOP = [
  "app",
  "server",
  "components",
  "workers",
  "schemas",
  "e2e",
  "bin",
  "bench",
  "test-support",
  "drizzle",
  "docs",
];
const STARTS = new RegExp(`^(${TOP.join("|")})/`);
/** Characters of a placeholder or a glob: the token names no single file. */
const PLACEHOLDER = /[<>*{}…$?]|\.\.\./;

/** The documents checked: README.md and every docs/*.md. */
function documents(root: string): string[] {
  const docs = fs
    .readdirSync(path.join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => path.join("docs", f));
  return ["README.md", ...docs.sort()];
}

/** Inline code spans of a markdown text (not fenced blocks), with their line numbers. */
function codeSpans(text: string): { line: number; code: string }[] {
  const out: { line: number; code: string }[] = [];
  let fenced = false;
  text.split("\n").forEach((lineText, i) => {
    if (/^\s*(```|~~~)/.test(lineText)) {
      fenced = !fenced;
      return;
    }
    if (fenced) return;
    for (const m of lineText.matchAll(/(`+)([^`]+?)\1(?!`)/g)) {
      out.push({ line: i + 1, code: m[2] ?? "" });
    }
  });
  return out;
}

/** Quotes, brackets and punctuation around a path in a command or a sentence, and an anchor. */
const bare = (raw: string) =>
  raw
    .replace(/^[("'[=]+/, "")
    .replace(/[)"',;:\].]+$/, "")
    .replace(/#.*$/, "");
/** `app/(app)/error.tsx` keeps its parentheses; anything else unusual is not a path. */
const PATHLIKE = /^[\w@()[\].\-/]+$/;

/** The repository paths a code span names: whitespace-separated tokens under a checked folder. */
function pathsIn(code: string): string[] {
  return code
    .split(/\s+/)
    .map(bare)
    .filter((t) => STARTS.test(t) && !PLACEHOLDER.test(t) && PATHLIKE.test(t));
}

/**
 * Files named relative to server/, as the architecture's walk through the folders does
 * (`requests/service.ts`, `state/queue/carry.ts`): a source file whose first folder is one of
 * server/'s. Each must exist under server/ (or, as `workers/main.ts`, at the top).
 */
function serverRelativeIn(code: string, serverFolders: ReadonlySet<string>): string[] {
  return code
    .split(/\s+/)
    .map(bare)
    .filter(
      (t) =>
        !STARTS.test(t) &&
        !PLACEHOLDER.test(t) &&
        PATHLIKE.test(t) &&
        /^[a-z-]+\/.+\.(ts|tsx|mjs|json)$/.test(t) &&
        serverFolders.has(t.split("/")[0] ?? ""),
    );
}

describe("the documents name files that exist", () => {
  it("finds paths in code spans, skipping placeholders and globs", () => {
    expect(pathsIn("npx vitest run server/hostile")).toEqual(["server/hostile"]);
    expect(pathsIn("(server/git/patch.ts),")).toEqual(["server/git/patch.ts"]);
    expect(pathsIn("app/(app)/error.tsx")).toEqual(["app/(app)/error.tsx"]);
    expect(pathsIn("e2e/<spec>.spec.ts")).toEqual([]);
    expect(pathsIn("server/git/patch*.ts")).toEqual([]);
    expect(pathsIn("runs/<id>")).toEqual([]);
    expect(pathsIn("data/repos/demo")).toEqual([]);
    expect(pathsIn("https://example.com/server/x.ts")).toEqual([]);
    const folders = new Set(["queue", "state"]);
    expect(serverRelativeIn("queue/land.ts and state/queue/carry.ts", folders)).toEqual([
      "queue/land.ts",
      "state/queue/carry.ts",
    ]);
    expect(serverRelativeIn("server/queue/land.ts runs/<id>/prompt.md x/y.ts", folders)).toEqual(
      [],
    );
    expect(codeSpans("a `docs/x.md` b\n```\n`docs/y.md`\n```\nc ``server/z.ts``")).toEqual([
      { line: 1, code: "docs/x.md" },
      { line: 5, code: "server/z.ts" },
    ]);
  });

  it("every repository path in README.md and docs/*.md exists", () => {
    const missing: string[] = [];
    let checked = 0;
    const serverFolders = new Set(
      fs
        .readdirSync(path.join(ROOT, "server"), { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name),
    );
    for (const doc of documents(ROOT)) {
      const text = fs.readFileSync(path.join(ROOT, doc), "utf8");
      for (const { line, code } of codeSpans(text)) {
        for (const p of pathsIn(code)) {
          checked++;
          if (!fs.existsSync(path.join(ROOT, p))) missing.push(`${doc}:${line}: ${p}`);
        }
        for (const p of serverRelativeIn(code, serverFolders)) {
          checked++;
          const there = [path.join(ROOT, "server", p), path.join(ROOT, p)].some(fs.existsSync);
          if (!there) missing.push(`${doc}:${line}: ${p} (under server/)`);
        }
      }
    }
    expect(checked).toBeGreaterThan(100);
    expect(
      missing,
      `paths named in the documents that do not exist:\n${missing.join("\n")}`,
    ).toEqual([]);
  });
});

describe("docs/accessibility.md", () => {
  it("lists every page state the accessibility tour walks (e2e/support/pages.ts)", () => {
    const pages = fs.readFileSync(path.join(ROOT, "e2e/support/pages.ts"), "utf8");
    const doc = fs.readFileSync(path.join(ROOT, "docs/accessibility.md"), "utf8");
    const names = [...pages.matchAll(/\bname: "([a-z0-9-]+)"/g)].map((m) => m[1]);
    expect(names.length).toBeGreaterThan(30);
    expect(names.filter((n) => !doc.includes(`| \`${n}\``))).toEqual([]);
  });
});
