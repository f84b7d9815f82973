import { describe, expect, it } from "vitest";
import { fieldIssues } from "./issues";
import { parseTaskRequestBatch, TaskRequest, taskRequestFor } from "./task-request";

const good = { title: "Add a discount cap", description: "Cap at 50%.", repo: "demo" };

function issuesOf(input: unknown, repos = ["demo"]) {
  const result = taskRequestFor(repos).safeParse(input);
  return result.success ? [] : fieldIssues(result.error);
}

describe("TaskRequest", () => {
  it("accepts a minimal request and fills the defaults", () => {
    const parsed = TaskRequest.parse(good);
    expect(parsed).toEqual({
      ...good,
      priority: "normal",
      areas: [],
      files: [],
      dependsOn: [],
      acceptance: [],
      checks: [],
    });
  });

  it("accepts every optional field", () => {
    const full = {
      ...good,
      kind: "bugfix",
      priority: "high",
      areas: ["pricing"],
      files: ["src/pricing/pricing.js", "docs/guide.md"],
      dependsOn: [1, 2, "#0"],
      allowNewFiles: true,
      acceptance: ["npm test"],
      checks: ["test"],
    };
    expect(TaskRequest.parse(full)).toEqual(full);
  });

  it("rejects an unknown field by name", () => {
    expect(issuesOf({ ...good, colour: "red" })).toEqual([
      { path: "colour", message: "is not a known field" },
    ]);
  });

  it("names every failing field", () => {
    const paths = issuesOf({
      title: "",
      description: 5,
      repo: "demo",
      kind: "epic",
      priority: "urgent",
      dependsOn: [0, "x"],
    }).map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        "title",
        "description",
        "kind",
        "priority",
        "dependsOn[0]",
        "dependsOn[1]",
      ]),
    );
  });

  it("limits the title to 200 characters and the description to 20 000", () => {
    expect(issuesOf({ ...good, title: "x".repeat(201) })[0]?.path).toBe("title");
    expect(issuesOf({ ...good, title: "x".repeat(200) })).toEqual([]);
    expect(issuesOf({ ...good, description: "x".repeat(20_001) })[0]?.path).toBe("description");
  });

  it.each([
    ["../secrets", "must not contain '..'"],
    ["src/../../etc/passwd", "must not contain '..'"],
    ["/etc/passwd", "must be relative to the repository root, not absolute"],
    ["C:/Windows", "must be relative to the repository root, not absolute"],
    [".git/config", "must not be inside .git"],
    ["sub/.GIT/hooks/pre-commit", "must not be inside .git"],
    ["src\\win.js", "must use forward slashes"],
    ["src//double", "must not contain empty segments"],
  ])("refuses the file path %s", (file, message) => {
    expect(issuesOf({ ...good, files: ["ok.md", file] })).toEqual([{ path: "files[1]", message }]);
  });

  it("refuses a repository that is not configured, naming the configured ones", () => {
    expect(issuesOf({ ...good, repo: "other" })).toEqual([
      { path: "repo", message: "unknown repository 'other'; configured: demo" },
    ]);
  });

  it("reports an unknown repository together with the other problems", () => {
    const paths = issuesOf({ title: "", description: "", repo: "nope", extra: 1 }).map(
      (i) => i.path,
    );
    expect(paths).toEqual(expect.arrayContaining(["title", "repo", "extra"]));
  });

  it("keeps HTML and SQL in text fields as given", () => {
    const title = "<script>alert(1)</script>'; DROP TABLE requests; --";
    expect(TaskRequest.parse({ ...good, title }).title).toBe(title);
  });
});

describe("a batch of requests", () => {
  it("takes one object or an array", () => {
    expect(parseTaskRequestBatch(good, ["demo"])).toMatchObject({ success: true, data: [good] });
    const two = parseTaskRequestBatch([good, good], ["demo"]);
    expect(two.success && two.data.length).toBe(2);
  });

  it("reports failures in an array with their index", () => {
    const result = parseTaskRequestBatch([good, { ...good, title: "" }], ["demo"]);
    expect(result.success ? [] : fieldIssues(result.error)).toEqual([
      { path: "[1].title", message: "is required" },
    ]);
  });

  it("refuses an empty array", () => {
    expect(parseTaskRequestBatch([], ["demo"]).success).toBe(false);
  });
});
