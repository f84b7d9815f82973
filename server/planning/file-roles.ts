/** What a path is for, judged from its name: shared by the Engineer and the Orchestrator. */
const TEST_FILE = /(^|\/)(tests?|__tests__|spec)\/|\.(test|spec)\.[a-z]+$/;
const DOC_FILE = /\.(md|mdx|rst|txt|adoc)$|(^|\/)docs?\//;

export const isTestFile = (path: string) => TEST_FILE.test(path);
export const isDocFile = (path: string) => DOC_FILE.test(path);

/** The role of a group of files: all tests, all docs, or code. */
export function roleOf(files: string[]): "test" | "docs" | "code" {
  if (files.every(isTestFile)) return "test";
  if (files.every(isDocFile)) return "docs";
  return "code";
}

/** A file's name up to its first dot: `tests/cart.test.js` and `src/cart/cart.js` share `cart`. */
export const stem = (path: string) => (path.split("/").pop() ?? "").split(".")[0] ?? "";
