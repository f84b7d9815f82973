import fc from "fast-check";
import picomatch from "picomatch";
import { describe, expect, it } from "vitest";
import { compileGlob, compileGlobs } from "./match";
import { globProblem } from "./parse";

const matches = (glob: string, path: string) => compileGlob(glob)(path);

describe("glob matching", () => {
  it.each([
    ["src/**", "src/a/b.js", true],
    ["src/**", "src", true],
    ["src/**", "srcx/a", false],
    ["**", ".github/workflows/ci.yml", true],
    ["**/a", "a", true],
    ["a/**/b", "a/b", true],
    ["a/**/b", "a/x/y/b", true],
    ["a/**/b", "a/x/y/c", false],
    ["*.md", "README.md", true],
    ["*.md", "docs/guide.md", false],
    ["*", ".env", true],
    [".github/**", ".github/workflows/ci.yml", true],
    ["src/cart*.js", "src/cart-total.js", true],
    ["src/cart*.js", "src/cart/total.js", false],
    ["a?c", "abc", true],
    ["a?c", "a/c", false],
    ["[abc]x", "bx", true],
    ["[a-c]x", "dx", false],
    ["[!a]x", "bx", true],
    ["[!a]x", "ax", false],
    ["a/*", "a", false],
    ["a*b*c", "aXbYc", true],
    ["a*b*c", "aXbYd", false],
  ])("%s against %s is %s", (glob, path, expected) => {
    expect(matches(glob, path)).toBe(expected);
  });

  it("matches any of several globs", () => {
    const m = compileGlobs(["docs/**", "*.md"]);
    expect([m("docs/a/b.txt"), m("CHANGES.md"), m("src/x.md")]).toEqual([true, true, false]);
  });

  it("answers a pathological glob against a 255-byte name", () => {
    const name = `${"a".repeat(254)}c`;
    const glob = "**/*a*a*a*a*a*a*a*a*b";
    expect(matches(glob, name)).toBe(false);
    expect(matches(glob, `dir/sub/${name}`)).toBe(false);
    expect(matches(glob, `${"a".repeat(254)}b`)).toBe(true);
    expect(matches("**/**/**/**/**/**/**/**/x", `${"d/".repeat(1000)}y`)).toBe(false);
  });

  it("refuses to compile a glob with a problem", () => {
    expect(() => compileGlob("src/{a,b}")).toThrow("'src/{a,b}' uses braces");
  });
});

// Safe globs: only the syntax both matchers read the same way. Two known picomatch quirks are
// left out: `[!x]` (picomatch 4 reads the '!' literally) and a trailing `/**` after a segment
// ending in '*' (picomatch then demands one more segment; `**` here always allows none).
const char = fc.constantFrom("a", "b", "c", ".", "-", "_");
const segmentToken = fc.oneof(
  { weight: 4, arbitrary: char },
  { weight: 2, arbitrary: fc.constant("*") },
  { weight: 1, arbitrary: fc.constant("?") },
  { weight: 1, arbitrary: fc.constantFrom("[ab]", "[a-c]", "[.c]", "[b-c_]") },
);
const globSegment = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.array(segmentToken, { minLength: 1, maxLength: 5 }).map((t) => t.join("")),
  },
  { weight: 1, arbitrary: fc.constant("**") },
);
const safeGlob = fc
  .array(globSegment, { minLength: 1, maxLength: 4 })
  .map((segments) => segments.join("/"))
  .filter((glob) => globProblem(glob) === undefined && !/\*\/\*\*$/.test(glob));
const pathSegment = fc
  .array(char, { minLength: 1, maxLength: 6 })
  .map((c) => c.join(""))
  .filter((s) => s !== "." && s !== "..");
const repoPath = fc.array(pathSegment, { minLength: 1, maxLength: 5 }).map((s) => s.join("/"));

describe("agreement with picomatch", () => {
  it("gives picomatch's answer (dot: true) on safe globs and paths", () => {
    fc.assert(
      fc.property(safeGlob, repoPath, (glob, path) => {
        expect([glob, path, matches(glob, path)]).toEqual([
          glob,
          path,
          picomatch(glob, { dot: true })(path),
        ]);
      }),
      { seed: 20_240_611, numRuns: 5000 },
    );
  });

  it("gives picomatch's answer on paths built to fit the glob", () => {
    // Random paths rarely match random globs; these mostly do, so both answers get tested.
    const fitted = safeGlob.chain((glob) =>
      fc
        .tuple(
          ...glob
            .split("/")
            .map((seg) =>
              seg === "**"
                ? fc.array(pathSegment, { maxLength: 2 }).map((s) => s.join("/"))
                : fc
                    .tuple(
                      ...Array.from(seg.replace(/\[([^\]])[^\]]*\]/g, "$1")).map((c) =>
                        c === "*"
                          ? fc.array(char, { maxLength: 3 }).map((x) => x.join(""))
                          : c === "?"
                            ? char
                            : fc.constant(c),
                      ),
                    )
                    .map((parts) => parts.join("")),
            ),
        )
        .map((parts) => ({ glob, path: parts.filter((p) => p !== "").join("/") })),
    );
    let matched = 0;
    fc.assert(
      fc.property(
        fitted.filter(
          ({ path }) => path !== "" && path.split("/").every((s) => s !== "." && s !== ".."),
        ),
        ({ glob, path }) => {
          const answer = matches(glob, path);
          if (answer) matched++;
          expect([glob, path, answer]).toEqual([glob, path, picomatch(glob, { dot: true })(path)]);
        },
      ),
      { seed: 7, numRuns: 3000 },
    );
    expect(matched).toBeGreaterThan(1500);
  });
});
