import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { safeCallbackPath } from "./callback-url";

const BASE = "http://localhost:3000";

describe("safeCallbackPath", () => {
  it.each([
    ["/history", "/history"],
    ["/requests/7?filed=1#top", "/requests/7?filed=1#top"],
    ["http://localhost:3000/queue", "/queue"],
    ["history", "/history"],
  ])("keeps the same-origin path %s", (value, expected) => {
    expect(safeCallbackPath(value, BASE)).toBe(expected);
  });

  it.each([
    "//evil.example",
    "/\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "\\\\evil.example",
    "https://evil.example/",
    "http://localhost:3001/",
    "javascript:alert(1)",
    "",
    `/${"a".repeat(5000)}`,
  ])("falls back to / for %j", (value) => {
    expect(safeCallbackPath(value, BASE)).toBe("/");
  });

  it("never returns a path a browser would read as another host", () => {
    expect(safeCallbackPath("/.//evil.example", BASE)).toBe("/evil.example");
    expect(safeCallbackPath("/..//evil.example", BASE)).toBe("/evil.example");
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (value) => {
        const out = safeCallbackPath(value, BASE);
        expect(out.startsWith("/")).toBe(true);
        expect(out.startsWith("//")).toBe(false);
        expect(/[\s\\]/.test(out.split(/[?#]/)[0] ?? "")).toBe(false);
        expect(new URL(out, BASE).origin).toBe(BASE);
      }),
      { seed: 20_261_121, numRuns: 500 },
    );
  });

  it("ignores what is not a string", () => {
    expect(safeCallbackPath(["/a", "/b"])).toBe("/");
    expect(safeCallbackPath(undefined)).toBe("/");
  });
});
