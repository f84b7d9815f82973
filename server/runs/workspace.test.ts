import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeRunDir, type RunDir } from "@/server/confine/run";
import { candidateCommit, collectChange, createWorkspace } from "./workspace";

let root: string;
let repo: string;
let run: RunDir;
let base: string;
const sh = (args: string[], cwd = repo) =>
  execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "T",
      GIT_AUTHOR_EMAIL: "t@t",
      GIT_COMMITTER_NAME: "T",
      GIT_COMMITTER_EMAIL: "t@t",
    },
  });

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "ws-test-"));
  repo = path.join(root, "repo");
  fs.mkdirSync(path.join(repo, "src"), { recursive: true });
  fs.mkdirSync(path.join(repo, "docs"), { recursive: true });
  fs.writeFileSync(path.join(repo, "src", "a.js"), "export const a = 1;\n");
  fs.writeFileSync(path.join(repo, "src", "b.js"), "export const b = 2;\n");
  fs.writeFileSync(path.join(repo, "docs", "guide.md"), "# Guide\n");
  sh(["init", "-q", "-b", "main"]);
  sh(["add", "-A"]);
  sh(["commit", "-qm", "base"]);
  base = sh(["rev-parse", "HEAD"]).trim();
  run = makeRunDir("ws-run-");
});
afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(run.root, { recursive: true, force: true });
});

const make = (paths: string[]) =>
  createWorkspace({ repoPath: repo, base, paths, run, gitDir: path.join(root, "ws.git") });

describe("an agent's workspace", () => {
  it("holds only the task's files, and no git directory of anyone's", async () => {
    const ws = await make(["src/a.js", "docs/new.md"]);
    expect(ws.files).toEqual(["src/a.js"]);
    expect(fs.readdirSync(run.work, { recursive: true }).sort()).toEqual(["src", "src/a.js"]);
    expect(fs.readFileSync(path.join(run.work, "src/a.js"), "utf8")).toBe("export const a = 1;\n");
    // The target is untouched: no worktree registered, no new objects.
    expect(sh(["worktree", "list"]).trim().split("\n")).toHaveLength(1);
  });

  it("a folder among the paths brings what is under it (context)", async () => {
    const ws = await make(["src/a.js", "docs"]);
    expect(ws.files.sort()).toEqual(["docs/guide.md", "src/a.js"]);
  });

  it("the change is a patch against the base, that applies to the target, and a candidate commit", async () => {
    const ws = await make(["src/a.js", "docs/new.md"]);
    fs.writeFileSync(path.join(run.work, "src/a.js"), "export const a = 42;\n");
    fs.mkdirSync(path.join(run.work, "docs"));
    fs.writeFileSync(path.join(run.work, "docs/new.md"), "new\n");
    const allowed = new Set(["src/a.js", "docs/new.md"]);
    const change = await collectChange(ws, (p) => allowed.has(p), { maxFileBytes: 1e6 });
    if ("problem" in change) throw new Error(change.problem);
    expect(change.paths).toEqual(["docs/new.md", "src/a.js"]);
    expect(change.outside).toEqual([]);
    expect(change.patch).toContain("+export const a = 42;");
    // Full-index: it applies to the real base, where src/b.js and docs/guide.md exist too.
    fs.writeFileSync(path.join(root, "p.diff"), change.patch);
    sh(["apply", "--check", path.join(root, "p.diff")]);
    const candidate = await candidateCommit(ws, change);
    const files = execFileSync("git", ["ls-tree", "-r", "--name-only", candidate], {
      cwd: repo,
      env: { ...process.env, GIT_DIR: ws.gitDir },
      encoding: "utf8",
    });
    expect(files.trim().split("\n").sort()).toEqual([
      "docs/guide.md",
      "docs/new.md",
      "src/a.js",
      "src/b.js",
    ]);
  });

  it("a write outside the task's files is named, and nothing of it is staged", async () => {
    const ws = await make(["src/a.js"]);
    fs.writeFileSync(path.join(run.work, "src/a.js"), "changed\n");
    fs.writeFileSync(path.join(run.work, "evil.sh"), "rm -rf /\n");
    const change = await collectChange(ws, (p) => p === "src/a.js", { maxFileBytes: 1e6 });
    expect(change).toMatchObject({ outside: ["evil.sh"] });
  });

  it("a deleted file is a deletion; a deleted workspace is a problem", async () => {
    const ws = await make(["src/a.js"]);
    fs.rmSync(path.join(run.work, "src/a.js"));
    const change = await collectChange(ws, () => true, { maxFileBytes: 1e6 });
    if ("problem" in change) throw new Error(change.problem);
    expect(change.patch).toContain("deleted file mode 100644");
    fs.rmSync(run.work, { recursive: true });
    expect(await collectChange(ws, () => true, { maxFileBytes: 1e6 })).toEqual({
      problem: "the workspace was deleted",
    });
  });

  it("a filter the agent defines in .gitattributes never runs in Hyperion's git", async () => {
    const ws = await make(["src/a.js", ".gitattributes"]);
    const marker = path.join(root, "pwned");
    fs.writeFileSync(path.join(run.work, ".gitattributes"), "* filter=evil\n");
    fs.writeFileSync(path.join(run.work, "src/a.js"), "x\n");
    // Even a config file dropped where a git dir would be is not Hyperion's git directory.
    fs.mkdirSync(path.join(run.work, ".git"));
    fs.writeFileSync(
      path.join(run.work, ".git", "config"),
      `[filter "evil"]\n\tclean = touch ${marker}\n[core]\n\tfsmonitor = touch ${marker}\n`,
    );
    const change = await collectChange(ws, (p) => p === "src/a.js" || p === ".gitattributes", {
      maxFileBytes: 1e6,
    });
    expect(fs.existsSync(marker)).toBe(false);
    // A .git folder in the workspace is never part of a change.
    expect(change).toMatchObject({ outside: [], paths: [".gitattributes", "src/a.js"] });
  });
});

describe("an untouched workspace", () => {
  it("has no change", async () => {
    const ws = await make(["src/a.js", "docs/new.md"]);
    expect(await collectChange(ws, () => true, { maxFileBytes: 1e6 })).toEqual({
      paths: [],
      outside: [],
      patch: "",
      raw: [],
    });
  });
});
