import { describe, expect, it } from "vitest";
import { historyHref } from "@/schemas/history";
import { describeFilters, readHistoryParams } from "./history-params";

const repos = ["demo", "gated"];

describe("readHistoryParams", () => {
  it("reads known values into a query for the first page of 50", () => {
    const read = readHistoryParams(
      { q: " cap ", status: "done", repo: "demo", sort: "title" },
      repos,
    );
    expect(read.problems).toEqual([]);
    expect(read.query).toMatchObject({
      q: "cap",
      status: "done",
      repo: "demo",
      sort: "title",
      limit: 50,
    });
  });

  it("lists nothing for an unknown status, repository or kind, naming each value", () => {
    const read = readHistoryParams(
      { status: "<script>alert(1)</script>", repo: "nope", kind: "'%" },
      repos,
    );
    expect(read.query).toBeNull();
    expect(read.problems).toEqual([
      "No status called '<script>alert(1)</script>'.",
      "No repository called 'nope'.",
      "No kind called ''%'.",
    ]);
  });

  it("says a search over 200 characters cannot match, and cuts long values short when shown", () => {
    const read = readHistoryParams({ q: "x".repeat(250), repo: "r".repeat(100) }, repos);
    expect(read.problems[0]).toMatch(/at most 200 characters.*250/);
    expect(read.problems[1]).toBe(`No repository called '${"r".repeat(60)}…'.`);
  });

  it("sets an unknown sort or repeated value aside with a notice or problem", () => {
    const read = readHistoryParams({ sort: "random", status: ["done", "failed"] }, repos);
    expect(read.notices[0]).toMatch(/No sort called 'random'.*newest first/);
    expect(read.problems).toEqual(["Choose one status, not 2."]);
    expect(readHistoryParams({ sort: "random" }, repos).query?.sort).toBe("new");
  });
});

describe("historyHref and describeFilters", () => {
  it("leaves defaults out of the address and keeps the cursor", () => {
    expect(historyHref({ q: "", sort: "new" })).toBe("/history");
    expect(historyHref({ q: "50% off", status: "done", sort: "old" }, "abc")).toBe(
      "/history?q=50%25+off&status=done&sort=old&cursor=abc",
    );
    expect(
      describeFilters(
        { q: " a ", status: "needs_clarification", repo: "", kind: "docs", mine: "", sort: "" },
        (s) => s.toUpperCase(),
      ),
    ).toBe("search 'a', status 'NEEDS_CLARIFICATION', kind 'docs'");
  });
});
