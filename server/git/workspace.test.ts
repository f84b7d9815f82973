import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeRepoPair, write } from "@/test-support/git-fixtures";
import { Repo } from "./repo";
import { WorkspaceGit } from "./workspace";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function setUp() {
  const p = await makeRepoPair({ "a.txt": "a\n", "src/b.ts": "b\n", "src/c.ts": "c\n" });
  cleanups.push(p.cleanup);
  const work = path.join(p.root, "ws");
  fs.mkdirSync(work);
  const wsGit = await WorkspaceGit.create({
    gitDir: path.join(p.root, "ws.git"),
    workTree: work,
    objectsDir: await Repo.at(p.bare).objectsDir(),
    cwd: p.root,
  });
  return { p, work, wsGit, base: await p.tip() };
}

describe("WorkspaceGit", () => {
  it("checks out only the named paths, from objects it borrows", async () => {
    const { work, wsGit, base } = await setUp();
    const entries = await wsGit.lsTree(base, ["src", "missing.txt"]);
    expect(entries.map((e) => [e.path, e.mode, e.type])).toEqual([
      ["src/b.ts", "100644", "blob"],
      ["src/c.ts", "100644", "blob"],
    ]);
    await wsGit.addToIndex(entries);
    await wsGit.checkoutIndex();
    expect(fs.readdirSync(work)).toEqual(["src"]);
    expect(fs.readFileSync(path.join(work, "src/b.ts"), "utf8")).toBe("b\n");
    expect(fs.existsSync(path.join(wsGit.gitDir, "objects", "info", "alternates"))).toBe(true);
  });

  it("sees changes, deletions and new files, and stages them against the tree it was given", async () => {
    const { work, wsGit, base } = await setUp();
    await wsGit.addToIndex(await wsGit.lsTree(base, ["src"]));
    await wsGit.checkoutIndex();
    const tree = await wsGit.writeTree();
    write(work, { "src/b.ts": "B\n", "new/d.ts": "d\n" });
    fs.rmSync(path.join(work, "src/c.ts"));
    expect((await wsGit.changedPaths()).sort()).toEqual(["src/b.ts", "src/c.ts"]);
    expect(await wsGit.untrackedPaths()).toEqual(["new/d.ts"]);
    await wsGit.add(["new/d.ts", "src/b.ts", "src/c.ts"]);
    expect(await wsGit.stagedPatch(tree)).toContain("-b\n+B\n");
    const staged = await wsGit.stagedEntries(tree);
    expect(staged.map((e) => [e.path, e.mode])).toEqual([
      ["new/d.ts", "100644"],
      ["src/b.ts", "100644"],
      ["src/c.ts", "000000"],
    ]);

    // The change on the whole base, in another index: a commit by Hyperion on the base.
    const candidate = wsGit.withIndex("candidate-index");
    await candidate.readTree(base);
    await candidate.setInIndex(
      staged.map((e) => (e.mode === "000000" ? { path: e.path, deleted: true as const } : e)),
    );
    const commit = await candidate.commitTree(await candidate.writeTree(), base, "candidate");
    const text = await Repo.ofGitDir(wsGit.gitDir).readCommit(commit);
    expect(text).toContain(`parent ${base}\n`);
    expect(text).toMatch(/^author Hyperion <hyperion@localhost> /m);
    const files = await Repo.ofGitDir(wsGit.gitDir).listTreeWithSizes(commit);
    expect(files.map((f) => f.path)).toEqual(["a.txt", "new/d.ts", "src/b.ts"]);
  });

  it("never runs a hook or a config the work tree carries", async () => {
    const { work, wsGit, base } = await setUp();
    await wsGit.addToIndex(await wsGit.lsTree(base, ["a.txt"]));
    await wsGit.checkoutIndex();
    const marker = path.join(work, "..", "hook-ran");
    const hooks = path.join(wsGit.gitDir, "hooks");
    fs.mkdirSync(hooks, { recursive: true });
    fs.writeFileSync(path.join(hooks, "post-index-change"), `#!/bin/sh\ntouch ${marker}\n`, {
      mode: 0o755,
    });
    fs.mkdirSync(path.join(work, ".git"));
    fs.writeFileSync(path.join(work, ".git", "config"), "[core]\n\tbare = true\n");
    write(work, { "a.txt": "changed\n" });
    expect(await wsGit.changedPaths()).toEqual(["a.txt"]);
    await wsGit.add(["a.txt"]);
    expect(fs.existsSync(marker)).toBe(false);
  });
});
