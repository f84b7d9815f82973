import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ALONE, MOCKING } from "../vitest.config";

const root = path.resolve(import.meta.dirname, "..");

/** Every test file of the tree, relative to the root. */
function testFiles(dir = root, out: string[] = []): string[] {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) testFiles(full, out);
    else if (entry.name.endsWith(".test.ts")) out.push(path.relative(root, full));
  }
  return out;
}

describe("the Vitest projects", () => {
  // The "unit" project shares one module graph per worker (isolate: false): a vi.mock there
  // would not take where an earlier file of the same worker loaded the real module.
  it("every file that mocks a module runs isolated (MOCKING or ALONE in vitest.config.ts)", () => {
    const mocking = testFiles().filter((f) =>
      /\bvi\.(mock|doMock)\(/.test(fs.readFileSync(path.join(root, f), "utf8")),
    );
    expect(mocking.length).toBeGreaterThan(0);
    expect(mocking.filter((f) => !MOCKING.includes(f) && !ALONE.includes(f))).toEqual([]);
  });

  it("every file it lists exists", () => {
    for (const f of [...MOCKING, ...ALONE]) expect(fs.existsSync(path.join(root, f)), f).toBe(true);
  });
});
