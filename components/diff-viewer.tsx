"use client";
import { useId, useMemo, useState } from "react";
import {
  Diff,
  type FileData,
  Hunk,
  type HunkTokens,
  markEdits,
  parseDiff,
  type TokenizeOptions,
  tokenize,
  type ViewType,
} from "react-diff-view";
import { refractor } from "refractor";
import jsx from "refractor/jsx";
import toml from "refractor/toml";
import tsx from "refractor/tsx";
import "react-diff-view/style/index.css";
import "./diff-viewer.css";

refractor.register(jsx);
refractor.register(tsx);
refractor.register(toml);

/**
 * react-diff-view's tokenize calls `refractor.highlight(text, language)` and expects the nodes
 * (refractor 3's answer); refractor 4 and later answer a hast root, whose children they are.
 */
const highlighter = {
  highlight: (text: string, language: string) => refractor.highlight(text, language).children,
} as unknown as Extract<TokenizeOptions, { highlight: true }>["refractor"];

/** Files with more changed lines than this start collapsed; the reviewer opens each one. */
export const COLLAPSE_LINES = 400;
/** Past this many changed lines a file is shown without syntax highlighting (it is slow). */
const HIGHLIGHT_LINES = 3000;

const LANGUAGES: Record<string, string> = {
  js: "javascript",
  mjs: "javascript",
  cjs: "javascript",
  jsx: "jsx",
  ts: "typescript",
  mts: "typescript",
  cts: "typescript",
  tsx: "tsx",
  json: "json",
  css: "css",
  scss: "scss",
  less: "less",
  md: "markdown",
  html: "markup",
  xml: "markup",
  svg: "markup",
  py: "python",
  rb: "ruby",
  go: "go",
  rs: "rust",
  java: "java",
  kt: "kotlin",
  c: "c",
  h: "c",
  cpp: "cpp",
  cs: "csharp",
  php: "php",
  sh: "bash",
  bash: "bash",
  yml: "yaml",
  yaml: "yaml",
  toml: "toml",
  sql: "sql",
  swift: "swift",
  lua: "lua",
};

export function languageOf(path: string): string | null {
  const base = path.split("/").pop() ?? "";
  if (base === "Makefile") return "makefile";
  if (base === "Dockerfile") return "docker";
  const lang = LANGUAGES[base.split(".").pop()?.toLowerCase() ?? ""];
  return lang && refractor.registered(lang) ? lang : null;
}

type ShownFile = FileData & { binary: boolean; path: string; added: number; removed: number };

/**
 * The patch's files as react-diff-view parses them. A `git diff --binary` patch carries a
 * binary file as a "GIT binary patch" block, which gitdiff-parser reads as a file without
 * hunks and without `isBinary` (it sets that only for git's "Binary files … differ"), so the
 * file's own section of the patch says which it is.
 */
export function filesOf(patch: string): ShownFile[] {
  const sections = patch.split(/^(?=diff --git )/m).filter((s) => s.startsWith("diff --git "));
  return parseDiff(patch, { nearbySequences: "zip" }).map((file, i) => {
    const section = sections[i] ?? "";
    const changes = file.hunks.flatMap((h) => h.changes);
    return {
      ...file,
      binary: Boolean(file.isBinary) || /^(GIT binary patch|Binary files )/m.test(section),
      path: file.type === "delete" ? file.oldPath : file.newPath,
      added: changes.filter((c) => c.type === "insert").length,
      removed: changes.filter((c) => c.type === "delete").length,
    };
  });
}

const kinds: Record<FileData["type"], string> = {
  add: "added",
  delete: "deleted",
  modify: "modified",
  rename: "renamed",
  copy: "copied",
};

/**
 * A whole patch, file by file: unified or side by side, syntax highlighted (refractor) with
 * the edits within changed lines marked; binary files named, not shown; a file with more than
 * COLLAPSE_LINES changed lines starts collapsed, and the browser skips laying out files that
 * are off screen (content-visibility), so a large diff stays usable.
 */
export function DiffViewer({ patch }: { patch: string }) {
  const files = useMemo(() => filesOf(patch), [patch]);
  const [viewType, setViewType] = useState<ViewType>("unified");
  const groupId = useId();
  const added = files.reduce((n, f) => n + f.added, 0);
  const removed = files.reduce((n, f) => n + f.removed, 0);
  return (
    <div className="diff-viewer space-y-3" data-testid="diff-viewer" data-view={viewType}>
      <div className="flex flex-wrap items-center gap-3 text-sm">
        <span data-testid="diff-stats">
          {files.length} file{files.length === 1 ? "" : "s"} changed,{" "}
          <span className="text-green-700">+{added}</span>{" "}
          <span className="text-red-700">−{removed}</span>
        </span>
        <fieldset className="ml-auto flex items-center gap-1" aria-labelledby={`${groupId}-label`}>
          <legend id={`${groupId}-label`} className="sr-only">
            Diff layout
          </legend>
          {(
            [
              ["unified", "Unified"],
              ["split", "Side by side"],
            ] as const
          ).map(([value, label]) => (
            <button
              key={value}
              type="button"
              aria-pressed={viewType === value}
              onClick={() => setViewType(value)}
              className={`rounded border px-2 py-0.5 ${viewType === value ? "border-slate-900 bg-slate-900 text-white" : "bg-white"}`}
            >
              {label}
            </button>
          ))}
        </fieldset>
      </div>
      {files.length === 0 && (
        <p className="text-sm text-slate-500">The patch changes no file git can show.</p>
      )}
      {files.map((file) => (
        <DiffFile key={`${file.oldPath}->${file.newPath}`} file={file} viewType={viewType} />
      ))}
    </div>
  );
}

function DiffFile({ file, viewType }: { file: ShownFile; viewType: ViewType }) {
  const lines = file.added + file.removed;
  const [open, setOpen] = useState(lines <= COLLAPSE_LINES);
  const language = languageOf(file.path);
  const tokens = useMemo<HunkTokens | null>(() => {
    if (!open || file.binary || !file.hunks.length || lines > HIGHLIGHT_LINES) return null;
    try {
      const enhancers = [markEdits(file.hunks, { type: "block" })];
      return language
        ? tokenize(file.hunks, { highlight: true, refractor: highlighter, language, enhancers })
        : tokenize(file.hunks, { enhancers });
    } catch {
      return null; // a grammar that chokes on odd input: the file is still shown, plain
    }
  }, [open, file, language, lines]);
  const renamed = file.type === "rename" || file.type === "copy";
  return (
    <section
      className="diff-file overflow-hidden rounded border border-slate-200 bg-white"
      data-testid="diff-file"
      data-path={file.path}
      aria-label={`Diff of ${file.path}`}
    >
      <header className="flex flex-wrap items-center gap-2 border-b border-slate-200 bg-slate-50 px-3 py-1.5 text-sm">
        <span className="font-mono font-medium" data-testid="diff-file-path">
          {renamed ? `${file.oldPath} → ${file.newPath}` : file.path}
        </span>
        <span className="text-xs text-slate-500">{kinds[file.type]}</span>
        {file.binary ? (
          <span
            className="rounded bg-amber-100 px-1.5 text-xs text-amber-900"
            data-testid="diff-binary"
          >
            binary file
          </span>
        ) : (
          <span className="text-xs">
            <span className="text-green-700">+{file.added}</span>{" "}
            <span className="text-red-700">−{file.removed}</span>
          </span>
        )}
        {!file.binary && lines > COLLAPSE_LINES && (
          <button
            type="button"
            className="ml-auto rounded border bg-white px-2 py-0.5 text-xs"
            aria-expanded={open}
            onClick={() => setOpen(!open)}
          >
            {open ? "Collapse" : `Show ${lines} changed lines`}
          </button>
        )}
      </header>
      {file.binary ? (
        <p className="px-3 py-2 text-sm text-slate-600">
          Binary file {kinds[file.type]}: its content is not shown as text. Check it out to look at
          it.
        </p>
      ) : !file.hunks.length ? (
        <p className="px-3 py-2 text-sm text-slate-600">
          No line changes{file.oldMode !== file.newMode ? ` (mode ${file.newMode})` : ""}.
        </p>
      ) : open ? (
        <div className="overflow-x-auto text-xs">
          <Diff viewType={viewType} diffType={file.type} hunks={file.hunks} tokens={tokens}>
            {(hunks) => hunks.map((hunk) => <Hunk key={hunk.content} hunk={hunk} />)}
          </Diff>
        </div>
      ) : (
        <p className="px-3 py-2 text-sm text-slate-600">
          {lines} changed lines, collapsed: show them with the button above.
        </p>
      )}
    </section>
  );
}
