import { describe, expect, it } from "vitest";
import { formIssues, humanMessages, messagesByField } from "./form-messages";
import { DESCRIPTION_MAX, TaskRequest } from "./task-request";

/** What the request form would show for these values, checked by the schema the server uses. */
function shown(values: Record<string, unknown>) {
  const result = TaskRequest.safeParse(values);
  if (result.success) return [];
  return humanMessages(formIssues(result.error), values);
}

const valid = { title: "Explain caps", description: "", repo: "demo" };

describe("form messages", () => {
  it("reports every problem of one submission at once, each under its field", () => {
    const values = {
      ...valid,
      title: "  ",
      files: ["docs/guide.md", "../outside.md"],
      dependsOn: ["abc"],
    };
    expect(messagesByField(shown(values))).toEqual({
      title: ["Give the request a title"],
      files: ["“../outside.md” must stay inside the repository"],
      dependsOn: ["Pick a request this one depends on from the list (“abc” is not a request)"],
    });
  });

  it("names the limit and the length of a description that is too long", () => {
    const description = "x".repeat(DESCRIPTION_MAX + 5);
    expect(shown({ ...valid, description })).toEqual([
      {
        field: "description",
        message: "Keep the description within 20,000 characters (it has 20,005)",
      },
    ]);
  });

  it("names the file for each path problem", () => {
    const files = ["/etc/passwd", ".git/config", "a\\b", "a//b"];
    expect(shown({ ...valid, files }).map((m) => m.message)).toEqual([
      "“/etc/passwd” must be relative to the repository root (no leading / or drive letter)",
      "“.git/config” points inside .git, which a request can't change",
      "“a\\b” must use forward slashes (/)",
      "“a//b” has an empty part between two slashes",
    ]);
  });

  it("words the server's reference checks: unknown areas and missing requests", () => {
    const values = { ...valid, areas: ["nope"], dependsOn: [99] };
    const issues = [
      { path: "areas[0]", message: "unknown area 'nope'; areas: cart, docs" },
      { path: "dependsOn[0]", message: "request 99 does not exist" },
    ];
    expect(humanMessages(issues, values)).toEqual([
      {
        field: "areas",
        message: "“nope” is not an area of this repository; pick one of: cart, docs",
      },
      {
        field: "dependsOn",
        message: "R99 does not exist; pick a request this one depends on from the list",
      },
    ]);
  });

  it("words a file the target branch lacks without the API's field name", () => {
    const values = { ...valid, files: ["docs/gide.md"] };
    const issues = [
      {
        path: "files[0]",
        message:
          "docs/gide.md does not exist on main: check the path, or file the request with allowNewFiles: true to create it",
        code: "new_file",
      },
    ];
    expect(humanMessages(issues, values)).toEqual([
      {
        field: "files",
        message:
          "“docs/gide.md” does not exist on main: check the path, or file again and choose to create it",
      },
    ]);
  });

  it("words an unknown repository and the form-level rules of edits and answers", () => {
    const issues = [
      { path: "repo", message: "unknown repository 'x'; configured: demo, gated" },
      { path: "", message: "an edit must change at least one of title, description" },
      { path: "", message: "an answer must give files, areas, a kind or a note" },
      { path: "id", message: "request 4 is done; only one that needs clarification takes answers" },
    ];
    expect(humanMessages(issues, { repo: "x" })).toEqual([
      { field: "repo", message: "“x” is not a repository here; pick one of: demo, gated" },
      { field: "form", message: "Change at least one field to save" },
      { field: "form", message: "Give files, areas, a kind or a note to answer the question" },
      {
        field: "form",
        message: "Request 4 is done; only one that needs clarification takes answers",
      },
    ]);
  });

  it("falls back to the field's label with the schema's own words, never a path", () => {
    const [m] = humanMessages([{ path: "files", message: "Invalid input" }], {});
    expect(m).toEqual({ field: "files", message: "Files: Invalid input" });
    const [n] = humanMessages([{ path: "title", message: "is odd" }], {});
    expect(n).toEqual({ field: "title", message: "Title: is odd" });
  });

  it("shows the same words once", () => {
    const issues = [
      { path: "title", message: "is required" },
      { path: "title", message: "is required" },
    ];
    expect(humanMessages(issues, {})).toHaveLength(1);
  });
});
