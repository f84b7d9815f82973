import { describe, expect, it } from "vitest";
import { dotGitLookalike, repoPathProblem, specialGitFile } from "./paths";

describe("repoPathProblem", () => {
  it.each([
    "README.md",
    "src/café/naïve.ts",
    ".github/workflows/ci.yml",
    ".gitignore",
    ".git.bak/notes",
    ".gitkeep",
    "git~/x",
    "a..b/c.d",
    "dir with spaces/file name.txt",
    "文档/说明 🚀.md",
    `d/${"x".repeat(255)}`,
  ])("accepts %s", (p) => {
    expect(repoPathProblem(p)).toBeUndefined();
  });

  it.each([
    ["", "must not be empty"],
    ["a\0b", "must not contain a NUL byte"],
    ["a\u001bb", "must not contain control characters (U+001B)"],
    ["a\u007f", "must not contain control characters (U+007F)"],
    ["docs/./x", "must not contain '.' segments"],
    ["./docs/x", "must not contain '.' segments"],
    ["a/../b", "must not contain '..'"],
    ["sub/.GiT/config", "must not be inside .git"],
    [".git./x", "segment '.git.' looks like .git (trailing dot)"],
    [".git /x", "segment '.git ' looks like .git (trailing space)"],
    ["GIT~1/x", "segment 'GIT~1' looks like .git (8.3 short name)"],
    ["git~2", "segment 'git~2' looks like .git (8.3 short name)"],
    [
      ".git::$INDEX_ALLOCATION/x",
      "segment '.git::$INDEX_ALLOCATION' looks like .git (NTFS stream)",
    ],
    [".g\u200cit", "segment '.g\\u200cit' looks like .git (ignorable Unicode code points)"],
    ["\ufeff.git/x", "segment '\\ufeff.git' looks like .git (ignorable Unicode code points)"],
    [".. /x", "segment '.. ' looks like '..' (trailing dot or space)"],
    ["a/ /b", "segment ' ' is blank"],
    [`d/${"x".repeat(300)}`, `component '${"x".repeat(24)}…' is 300 bytes; the limit is 255 bytes`],
    [`d/${"é".repeat(128)}`, `component '${"é".repeat(24)}…' is 256 bytes; the limit is 255 bytes`],
    ["x/".repeat(2049), "is 4098 bytes; the limit is 4096 bytes"],
  ])("refuses %j: %s", (p, message) => {
    expect(repoPathProblem(p)).toBe(message);
  });
});

describe("look-alikes", () => {
  it("finds .git behind each file system's disguise, and nothing else", () => {
    expect(dotGitLookalike(".GIT. .")).toBe("trailing dot");
    expect(dotGitLookalike(".git:$DATA")).toBe("NTFS stream");
    expect(dotGitLookalike(".github")).toBeUndefined();
    expect(dotGitLookalike("git~1a")).toBeUndefined();
  });

  it("names git's special files under any spelling", () => {
    expect(specialGitFile(".GitModules")).toBe(".gitmodules");
    expect(specialGitFile("GI7EBA~1")).toBe(".gitmodules");
    expect(specialGitFile(".gitattributes. ")).toBe(".gitattributes");
    expect(specialGitFile(".mailmap:stream")).toBe(".mailmap");
    expect(specialGitFile(".gitmodules.bak")).toBeUndefined();
  });
});
