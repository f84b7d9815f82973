import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeRepoPair, write } from "@/test-support/git-fixtures";
import { prepareChanges, stillApplies } from "./apply";
import { applyHunks, HunkConflict } from "./apply-hunks";
import { InvalidTreeEntryError, ObjectStore, type TreeEntry } from "./objects";
import { PatchParseError, parsePatch, patchPaths } from "./patch";
import { type Hunk, MAX_LINE_NUMBER } from "./patch-format";
import { git } from "./run";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function pair(files: Record<string, string | Buffer>) {
  const repo = await makeRepoPair(files);
  const store = await ObjectStore.open(repo.bare);
  cleanups.push(() => {
    store.close();
    repo.cleanup();
  });
  return { repo, store };
}

const numbered = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1}`);
const text = (lines: string[]) => `${lines.join("\n")}\n`;
const hunk = (oldStart: number, old: string[], neu: string[]): Hunk => ({
  oldStart,
  oldCount: old.length,
  newStart: oldStart,
  newCount: neu.length,
  lines: [
    ...old.map((t) => ({ op: "-" as const, text: t, noEol: false })),
    ...neu.map((t) => ({ op: "+" as const, text: t, noEol: false })),
  ],
});

describe("applyHunks stays bounded", () => {
  it("applies a hunk whose header is off by some lines, as git apply does", () => {
    const out = applyHunks("f", text(numbered(50)), [hunk(20, ["line 25"], ["changed"])]);
    expect(out).toBe(text(numbered(50).map((l) => (l === "line 25" ? "changed" : l))));
  });

  it("clamps a hunk far past the end of the file to the file and still finds its place", () => {
    const out = applyHunks("f", text(numbered(10)), [hunk(MAX_LINE_NUMBER, ["line 3"], ["three"])]);
    expect(out).toContain("three\nline 4\n");
  });

  it("gives up with a conflict naming the path once the comparison budget is spent", () => {
    const big = text(Array.from({ length: 50_000 }, () => "same"));
    const h = hunk(1, [...Array.from({ length: 20 }, () => "same"), "different"], ["x"]);
    expect(() => applyHunks("dir/big.txt", big, [h], 100_000)).toThrow(
      new HunkConflict(
        "dir/big.txt",
        "gave up looking for where hunk 1 applies after 100000 line comparisons",
      ),
    );
  });

  it("reports a hunk longer than the rest of the file as a conflict", () => {
    expect(() => applyHunks("f", text(numbered(2)), [hunk(1, numbered(3), [])])).toThrow(
      HunkConflict,
    );
  });
});

describe("parsePatch reads what git diff writes", () => {
  it("takes quoted, spaced, renamed and mode-changed names as git means them", async () => {
    const { repo } = await pair({ "old name.txt": "a\n", "run.sh": "x\n", "keep.txt": "k\n" });
    const { patch } = await repo.change((d) => {
      fs.renameSync(path.join(d, "old name.txt"), path.join(d, "new name.txt"));
      fs.chmodSync(path.join(d, "run.sh"), 0o755);
      write(d, { "caf\u00e9/\u00fc ber.md": "u\n", "keep.txt": "k\nk2\n" });
    });
    expect(patch).toContain('"b/caf\\303\\251/\\303\\274 ber.md"');
    const files = parsePatch(patch);
    expect(patchPaths(files)).toEqual([
      "caf\u00e9/\u00fc ber.md",
      "keep.txt",
      "new name.txt",
      "old name.txt",
      "run.sh",
    ]);
    expect(files.find((f) => f.newPath === "run.sh")).toMatchObject({
      oldMode: "100644",
      newMode: "100755",
    });
  });

  it("lists every problem of a patch, once per path", () => {
    const patch = [
      "diff --git a/../x b/../x",
      "new file mode 100644",
      "--- /dev/null",
      "+++ b/../x",
      "@@ -0,0 +1 @@",
      "+x",
      "diff --git a/ok b/ok",
      "new file mode 40000",
      "",
    ].join("\n");
    const err = (() => {
      try {
        parsePatch(patch);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(PatchParseError);
    expect((err as PatchParseError).problems).toEqual([
      "path '../x' must not contain '..'",
      "path 'ok' has new file mode '40000', which is not a file mode",
    ]);
  });

  it("takes a submodule only when the repository allows them", async () => {
    const { store } = await pair({ "a.txt": "a\n" });
    const commit = "1".repeat(40);
    const patch = [
      "diff --git a/sub b/sub",
      "new file mode 160000",
      `index ${"0".repeat(40)}..${commit}`,
      "--- /dev/null",
      "+++ b/sub",
      "@@ -0,0 +1 @@",
      `+Subproject commit ${commit}`,
      "",
    ].join("\n");
    expect(() => parsePatch(patch)).toThrow(/Hyperion does not support submodules/);
    const files = parsePatch(patch, { allowSubmodules: true });
    const prepared = await prepareChanges(store, null, files, { allowSubmodules: true });
    expect(prepared.changes.get("sub")).toEqual({ mode: "160000", oid: commit });
    await expect(prepareChanges(store, null, files)).rejects.toThrow(
      /Hyperion does not support submodules/,
    );
  });
});

describe("prepared changes", () => {
  it("no longer apply once a directory above a written path has become a symlink", async () => {
    const { store, repo } = await pair({ "docs/guide.md": "# Guide\n", "other.txt": "o\n" });
    const files = parsePatch(
      "diff --git a/docs/x.md b/docs/x.md\nnew file mode 100644\n--- /dev/null\n+++ b/docs/x.md\n@@ -0,0 +1 @@\n+x\n",
    );
    const before = await store.commitTree(await repo.tip());
    const prepared = await prepareChanges(store, before, files);
    expect(await stillApplies(store, before, prepared)).toBe(true);
    const link = store.write("blob", Buffer.from("/etc"));
    const after = store.writeTree([
      ...(await store.readTree(before)).filter((e) => e.name !== "docs"),
      { mode: "120000", name: "docs", oid: link },
    ]);
    expect(await stillApplies(store, after, prepared)).toBe(false);
    await expect(prepareChanges(store, after, files)).rejects.toThrow(
      "docs/x.md goes through 'docs', which is a symlink in the target tree",
    );
  });
});

describe("ObjectStore.writeTree", () => {
  it("orders entries as git does (a directory sorts as if it ended in '/')", async () => {
    const { store, repo } = await pair({ "a.txt": "a\n" });
    const blob = store.write("blob", Buffer.from("x\n"));
    const sub = store.writeTree([{ mode: "100644", name: "f", oid: blob }]);
    const entries: TreeEntry[] = [
      { mode: "100644", name: "a-b", oid: blob },
      { mode: "40000", name: "a", oid: sub },
      { mode: "100644", name: "a.b", oid: blob },
      { mode: "120000", name: "a0", oid: blob },
      { mode: "100755", name: "\u00e9", oid: blob },
    ];
    const ours = store.writeTree(entries);
    const mktree = entries
      .map((e) => `${e.mode} ${e.mode === "40000" ? "tree" : "blob"} ${e.oid}\t${e.name}`)
      .join("\n");
    expect(ours).toBe((await git(["mktree"], { cwd: repo.bare, input: `${mktree}\n` })).trim());
    await git(["fsck", "--strict", "--no-dangling"], { cwd: repo.bare });
  });

  it.each([
    ["an empty name", { name: "" }, /an entry has an empty name/],
    ["'.'", { name: "." }, /entry '\.' is a relative directory name/],
    ["'..'", { name: ".." }, /entry '\.\.' is a relative directory name/],
    ["'.GIT'", { name: ".GIT" }, /entry '\.GIT' is or looks like \.git/],
    ["'git~1'", { name: "git~1" }, /looks like \.git/],
    ["'.g\\u200cit'", { name: ".g\u200cit" }, /looks like \.git/],
    ["a slash", { name: "a/b" }, /contains '\/' or NUL/],
    ["a NUL", { name: "a\0b" }, /contains '\/' or NUL/],
    ["mode 644", { mode: "644" }, /has mode '644'/],
    ["mode 100600", { mode: "100600" }, /has mode '100600'/],
    ["the null object id", { oid: "0".repeat(40) }, /has object id/],
  ])("refuses %s", async (_what, change, message) => {
    const { store } = await pair({ "a.txt": "a\n" });
    const entry = { mode: "100644", name: "ok", oid: "e".repeat(40), ...change };
    expect(() => store.writeTree([entry])).toThrow(InvalidTreeEntryError);
    expect(() => store.writeTree([entry])).toThrow(message);
  });

  it("refuses two entries with one name, even when one is a directory", async () => {
    const { store } = await pair({ "a.txt": "a\n" });
    const oid = "e".repeat(40);
    expect(() =>
      store.writeTree([
        { mode: "100644", name: "a", oid },
        { mode: "100644", name: "a-b", oid },
        { mode: "40000", name: "a", oid },
      ]),
    ).toThrow(/two entries named 'a'/);
  });
});
