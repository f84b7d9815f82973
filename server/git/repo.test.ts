import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeRepoPair, write } from "@/test-support/git-fixtures";
import { MergeConflictError, Repo } from "./repo";
import { GitError } from "./run";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function pair(files: Record<string, string>) {
  const repo = await makeRepoPair(files);
  cleanups.push(repo.cleanup);
  return repo;
}

describe("Repo", () => {
  it("reaches the same repository from a folder and from its git directory", async () => {
    const p = await pair({ "a.txt": "a\n" });
    const gitDir = await Repo.at(p.work).absoluteGitDir();
    expect(gitDir).toBe(fs.realpathSync(path.join(p.work, ".git")));
    const head = await p.head();
    expect(await Repo.ofGitDir(gitDir).readCommit(head)).toMatch(/^tree [0-9a-f]{40}$/m);
    expect(await Repo.at(p.work).objectsDir()).toBe(path.join(p.work, ".git", "objects"));
  });

  it("resolves a branch to its commit, and says null or throws GitError for a missing one", async () => {
    const p = await pair({ "a.txt": "a\n" });
    const repo = Repo.at(p.bare);
    expect(await repo.resolveCommit("refs/heads/main")).toBe(await p.tip());
    expect(await repo.findCommit("refs/heads/main")).toBe(await p.tip());
    expect(await repo.findCommit("refs/heads/nothing")).toBeNull();
    await expect(repo.resolveCommit("refs/heads/nothing")).rejects.toBeInstanceOf(GitError);
  });

  it("lists a tree's files with their sizes", async () => {
    const p = await pair({ "a.txt": "abc\n", "src/b.ts": "export {};\n" });
    const entries = await Repo.at(p.bare).listTreeWithSizes("refs/heads/main");
    expect(entries.map((e) => [e.path, e.type, e.size])).toEqual([
      ["a.txt", "blob", 4],
      ["src/b.ts", "blob", 11],
    ]);
  });

  it("names the paths a commit's tree lacks, in the order asked", async () => {
    const p = await pair({ "a.txt": "a\n", "src/b.js": "b\n", "with space.md": "s\n" });
    const repo = Repo.at(p.work);
    const tip = await repo.resolveCommit("refs/heads/main");
    expect(
      await repo.missingPaths(tip, [
        "src/typo.js",
        "a.txt",
        "src",
        "with space.md",
        "src/b.js/x",
        "nope/a.txt",
        "src/b.js:x",
      ]),
    ).toEqual(["src/typo.js", "src/b.js/x", "nope/a.txt", "src/b.js:x"]);
    expect(await repo.missingPaths(tip, [])).toEqual([]);
    await expect(repo.missingPaths("main", ["a.txt"])).rejects.toThrow(/full commit id/);
  });

  it("walks first parents and answers ancestry, a commit it lacks being no ancestor", async () => {
    const p = await pair({ "a.txt": "1\n" });
    const first = await p.head();
    const { after: second } = await p.change((d) => write(d, { "a.txt": "2\n" }), "second");
    const { after: third } = await p.change((d) => write(d, { "a.txt": "3\n" }), "third");
    const repo = Repo.at(p.work);
    expect(await repo.firstParentsBetween(first, third)).toEqual([second, third]);
    expect(await repo.isAncestor(first, third)).toBe(true);
    expect(await repo.isAncestor(third, first)).toBe(false);
    expect(await repo.isAncestor("f".repeat(40), third)).toBe(false);
    expect(await repo.commitMessage(second)).toBe("second\n\n");
    expect(await repo.binaryDiff(third, second)).toContain("-3\n+2\n");
  });

  it("merges without a worktree, and names the paths of a conflict", async () => {
    const p = await pair({ "a.txt": "1\n", "b.txt": "1\n" });
    const base = await p.head();
    const { after: ours } = await p.change((d) => write(d, { "a.txt": "ours\n" }));
    await p.run(["checkout", "-q", "-b", "other", base]);
    const { after: theirs } = await p.change((d) => write(d, { "b.txt": "theirs\n" }));
    const { after: clash } = await p.change((d) => write(d, { "a.txt": "theirs\n" }));
    const repo = Repo.at(p.work);
    const tree = await repo.mergeTree(ours, theirs);
    expect(tree).toMatch(/^[0-9a-f]{40}$/);
    const err = await repo.mergeTree(ours, clash).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MergeConflictError);
    expect((err as MergeConflictError).paths).toEqual(["a.txt"]);
  });

  it("tells whether the working tree matches a commit, and moves it to another", async () => {
    const p = await pair({ "a.txt": "1\n" });
    const first = await p.head();
    const { after: second } = await p.change((d) => write(d, { "a.txt": "2\n" }));
    const repo = Repo.at(p.work);
    await repo.refreshIndex();
    expect(await repo.worktreeMatches("HEAD")).toBe(true);
    expect(await repo.worktreeMatches(first)).toBe(false);
    await p.run(["update-ref", "refs/heads/main", first]);
    await repo.moveWorktree(second, first);
    expect(fs.readFileSync(path.join(p.work, "a.txt"), "utf8")).toBe("1\n");
    expect(await repo.worktreeMatches("HEAD")).toBe(true);
  });

  it("creates a repository and commits its files as the signature given", async () => {
    const p = await pair({ "r.txt": "r\n" });
    const dir = path.join(p.root, "fresh");
    fs.mkdirSync(dir);
    write(dir, { "x.txt": "x\n" });
    const repo = await Repo.init(dir, "trunk");
    await repo.addAll();
    await repo.commit("first", { name: "Someone", email: "someone@example.test" });
    const head = await repo.resolveCommit("refs/heads/trunk");
    const text = await repo.readCommit(head);
    expect(text).toMatch(/^author Someone <someone@example\.test> /m);
    expect(text).toMatch(/^committer Someone <someone@example\.test> /m);
  });
});
