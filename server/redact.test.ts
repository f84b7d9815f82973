import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { REPO_PATH, redactFailureTexts, redactPaths, SERVER_PATH } from "./redact";

const known = { repos: ["/srv/hyperion/data/repos/demo"], dirs: ["/srv/hyperion/data"] };

describe("redactPaths", () => {
  it.each([
    ["git apply failed in /srv/hyperion/data/repos/demo", `git apply failed in ${REPO_PATH}`],
    ["open /srv/hyperion/data/repos/demo/src/a.ts: no", `open ${REPO_PATH}/src/a.ts: no`],
    ["SQLITE_BUSY: /srv/hyperion/data/hyperion.db", `SQLITE_BUSY: ${SERVER_PATH}`],
    [`spawn ${path.join(os.tmpdir(), "hyp-1", "wt")} failed`, `spawn ${SERVER_PATH} failed`],
    [`at f (${path.join(process.cwd(), "server", "x.ts")}:3:9)`, `at f (${SERVER_PATH}:3:9)`],
    [
      "ENOENT: no such file, open '/etc/hyperion/secret'",
      `ENOENT: no such file, open '${SERVER_PATH}'`,
    ],
    ["file:///opt/app/x.js", `file://${SERVER_PATH}`],
  ])("hides %j", (text, expected) => {
    expect(redactPaths(text, known)).toBe(expected);
  });

  it.each([
    "see https://example.test/a/b for details",
    "src/app.ts: patch does not apply",
    "the /history page",
    "no paths here",
  ])("leaves %j alone", (text) => {
    expect(redactPaths(text, known)).toBe(text);
  });

  it("leaves no absolute path of two segments behind, however it is set in the text", () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9._-]{1,8}$/);
    const absolute = fc
      .array(segment, { minLength: 2, maxLength: 5 })
      .map((s) => `/${s.join("/")}`);
    const before = fc.constantFrom(" ", "'", '"', "(", ": ", "=", "\n", "file://");
    const after = fc.constantFrom("", " ", "'", '"', ")", ": ", ",", "\n");
    fc.assert(
      fc.property(before, absolute, after, (before, p, after) => {
        const out = redactPaths(`error${before}${p}${after}done`, known);
        expect(out).not.toContain(p);
      }),
      { seed: 72, numRuns: 300 },
    );
  });
});

describe("redactFailureTexts", () => {
  it("redacts failure fields at any depth and nothing else", () => {
    const value = {
      title: "move /srv/a/b",
      tasks: [{ blockedReason: "failed at /srv/a/b" }],
      lastError: { message: "in /srv/a/b", paths: ["/srv/a/b"] },
      event: { error: { message: "/srv/a/b" } },
      log: { to: "merged", warning: "the worktree /srv/a/b could not be updated" },
      count: 3,
    };
    expect(redactFailureTexts(value, (t) => redactPaths(t))).toEqual({
      title: "move /srv/a/b",
      tasks: [{ blockedReason: `failed at ${SERVER_PATH}` }],
      lastError: { message: `in ${SERVER_PATH}`, paths: [SERVER_PATH] },
      event: { error: { message: SERVER_PATH } },
      log: { to: "merged", warning: `the worktree ${SERVER_PATH} could not be updated` },
      count: 3,
    });
  });
});
