import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { git } from "@/server/git/run";
import { BRANCH_NAME_PATTERN, branchNameProblem } from "./branch";

// Outside any repository, so git checks the name alone (no `@{-1}` expansion).
const outside = fs.mkdtempSync(path.join(os.tmpdir(), "hyperion-refname-"));
afterAll(() => fs.rmSync(outside, { recursive: true, force: true }));

async function gitAccepts(name: string): Promise<boolean> {
  try {
    await git(["check-ref-format", "--branch", name], {
      cwd: outside,
      env: { GIT_CEILING_DIRECTORIES: path.dirname(outside) },
    });
    return true;
  } catch {
    return false;
  }
}

/** Pieces that meet every rule of check_refname_format, so random names hit the edges. */
const pieces = [
  "a",
  "main",
  "x1",
  "Z",
  "é",
  "/",
  "//",
  ".",
  "..",
  ".lock",
  "lock",
  "-",
  "@",
  "@{",
  "{",
  "}",
  "~",
  "^",
  ":",
  "?",
  "*",
  "[",
  "\\",
  " ",
  "\t",
  "\x7f",
  "\x01",
  "HEAD",
  "refs",
  "_",
  "#",
];
const names = fc
  .array(fc.constantFrom(...pieces), { minLength: 1, maxLength: 8 })
  .map((parts) => parts.join(""));

describe("branchNameProblem", () => {
  it("agrees with git check-ref-format --branch on generated names", async () => {
    const disagreements: string[] = [];
    await fc.assert(
      fc.asyncProperty(names, async (name) => {
        // Deliberately stricter than git: '@' alone names HEAD, so it is no branch here.
        if (name === "@") return;
        const ours = branchNameProblem(name) === undefined;
        if (ours !== (await gitAccepts(name))) disagreements.push(JSON.stringify(name));
      }),
      { seed: 20_240_611, numRuns: 400 },
    );
    expect(disagreements).toEqual([]);
  });

  it.each([
    ["main", true],
    ["feature/x-1", true],
    ["caf\u00e9", true],
    ["a{b", true],
    ["../../config", false],
    ["main.lock", false],
    ["feature/", false],
    [".", false],
    ["a/.hidden", false],
    ["HEAD", false],
    ["-x", false],
    ["a@{b", false],
  ])("%s is %s for git too", async (name, ok) => {
    expect(branchNameProblem(name) === undefined).toBe(ok);
    expect(await gitAccepts(name)).toBe(ok);
  });

  it("refuses '@', which git --branch lets through, and names over 200 bytes", () => {
    expect(branchNameProblem("@")).toBe("must not be '@'");
    expect(branchNameProblem("x".repeat(201))).toBe("is 201 bytes; the limit is 200 bytes");
  });

  it("has a JSON Schema pattern that says the same", () => {
    const pattern = new RegExp(BRANCH_NAME_PATTERN);
    fc.assert(
      fc.property(names, (name) => {
        expect([name, pattern.test(name)]).toEqual([name, branchNameProblem(name) === undefined]);
      }),
      { seed: 7, numRuns: 2000 },
    );
  });
});
