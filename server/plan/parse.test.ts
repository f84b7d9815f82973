import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { Policy } from "@/schemas/policy";
import { demoPolicy } from "@/server/demo/policy";
import { goodPlan } from "./fixtures/plans";
import {
  approvalLineWords,
  invalidUtf8Offset,
  PLAN_MAX_BYTES,
  parsePlan,
  planBytesProblem,
} from "./parse";

const policy = Policy.parse({ ...demoPolicy, checks: { test: "npm test", lint: "npm run lint" } });
const F = "WORKPLAN.md";

const messages = (text: string) =>
  parsePlan(F, text, policy, "demo").problems.map((p) => p.message);

describe("the plan metadata block (the seed's format)", () => {
  it("reads a good plan: no problem, the approval line found", () => {
    const parsed = parsePlan(F, goodPlan(), policy, "demo");
    expect(parsed.problems).toEqual([]);
    expect(parsed.meta).toEqual({
      approvalPattern: "^Approved:[[:space:]]+yes$",
      requiredSections: ["Intent", "Plan", "Validation", "Approval"],
      validation: ["test"],
      from: "metadata",
    });
    expect(parsed.approvedAt).toBe(18);
  });

  it("reads the seed's own plan, and refuses its validation commands as a request's are refused", () => {
    const seed = fs.readFileSync(path.resolve("server/plan/fixtures/workplan-approved.md"), "utf8");
    const parsed = parsePlan(F, seed, policy, "demo");
    expect(parsed.meta?.requiredSections).toEqual([
      "Intent",
      "Goals",
      "Non-Goals",
      "Scope",
      "Constraints",
      "Plan",
      "Commands",
      "Validation",
      "Approval",
    ]);
    expect(parsed.approvedAt).not.toBeNull();
    expect(parsed.problems.map((p) => p.message)).toEqual([
      "WORKPLAN.md: validation policy: 'cargo fmt --check' is not a check of repository 'demo'; its checks: test, lint",
      "WORKPLAN.md: validation policy: 'cargo clippy --workspace --all-targets --all-features' is not a check of repository 'demo'; its checks: test, lint",
      "WORKPLAN.md: validation policy: 'cargo test --workspace' is not a check of repository 'demo'; its checks: test, lint",
    ]);
  });

  it("names a missing required section", () => {
    expect(messages(goodPlan().replace("## Validation\ntest\n", ""))).toEqual([
      "WORKPLAN.md: section 'Validation' is missing",
    ]);
  });

  it("says there is no 'Approved: yes' line", () => {
    expect(messages(goodPlan("Approved: not yet"))).toEqual([
      "WORKPLAN.md has no 'Approved: yes' line",
    ]);
  });

  it.each([
    "Approved: yes.",
    "approved: Yes",
    "Approved: Yes",
    " Approved: yes",
    "Approved:yes",
    "Approved: yes, mostly",
  ])("a line that almost matches is no approval: %j", (line) => {
    expect(messages(goodPlan(line))).toEqual(["WORKPLAN.md has no 'Approved: yes' line"]);
  });

  it("POSIX classes work: [[:space:]] takes a tab and several spaces", () => {
    expect(messages(goodPlan("Approved:\tyes"))).toEqual([]);
    expect(messages(goodPlan("Approved:    yes"))).toEqual([]);
  });

  it("names a repeated section and its lines", () => {
    expect(messages(goodPlan("Approved: yes", "## Plan\n- again\n"))).toEqual([
      "WORKPLAN.md: section 'Plan' is repeated (lines 11, 13)",
    ]);
  });

  it("ignores headings inside fenced code blocks", () => {
    expect(messages(goodPlan("Approved: yes", "```md\n## Plan\n```\n"))).toEqual([]);
  });

  it("refuses a plan without metadata, naming what to add", () => {
    expect(messages("# Plan\n\n## Intent\nx\n")).toEqual([
      "WORKPLAN.md has no '## Plan Metadata' section (or YAML front matter)",
    ]);
  });

  it("refuses a pattern RE2 cannot compile (no lookarounds), naming it", () => {
    const text = goodPlan().replace("^Approved:[[:space:]]+yes$", "^(?=Approved)");
    expect(messages(text)[0]).toMatch(
      /^WORKPLAN\.md: the approval pattern \^\(\?=Approved\) is not a valid RE2 pattern: /,
    );
  });

  it("runs a catastrophic pattern in linear time: (a+)+$ on a long line that fails at its end", () => {
    // A backtracking engine takes 2^n steps here; RE2 reads the line once (the test would time out).
    const text = goodPlan(`${"a".repeat(100_000)}!`).replace(
      "^Approved:[[:space:]]+yes$",
      "^(a+)+$",
    );
    expect(messages(text)).toEqual([
      "WORKPLAN.md has no line matching the approval pattern ^(a+)+$",
    ]);
  });
});

describe("YAML front matter, the alternative", () => {
  const front = (yaml: string, approval = "Approved: yes") =>
    `---\n${yaml}\n---\n# Plan\n\n## Intent\nx\n\n## Approval\n${approval}\n`;

  it("reads approval_pattern, required_sections and validation", () => {
    const parsed = parsePlan(
      F,
      front(
        "approval_pattern: '^Approved:[[:space:]]+yes$'\nrequired_sections: [Intent, Approval]\nvalidation: [test]",
      ),
      policy,
      "demo",
    );
    expect(parsed.problems).toEqual([]);
    expect(parsed.meta).toMatchObject({
      requiredSections: ["Intent", "Approval"],
      validation: ["test"],
      from: "front matter",
    });
  });

  it("takes comma- and semicolon-separated strings too, and names a missing section", () => {
    expect(
      messages(
        front(
          "approval_pattern: '^Approved:[[:space:]]+yes$'\nrequired_sections: Intent, Validation\nvalidation: test; lint",
        ),
      ),
    ).toEqual(["WORKPLAN.md: section 'Validation' is missing"]);
  });

  it("refuses invalid YAML, naming the line", () => {
    expect(messages(front("approval_pattern: [unclosed"))[0]).toMatch(
      /^WORKPLAN\.md: the front matter is not valid YAML \(line \d+\)/,
    );
  });

  it("refuses a command in validation, in the request's words", () => {
    expect(
      messages(front("approval_pattern: '^Approved:[[:space:]]+yes$'\nvalidation: ['rm -rf /']")),
    ).toEqual([
      "WORKPLAN.md: validation policy: 'rm -rf /' is not a check of repository 'demo'; its checks: test, lint",
    ]);
  });
});

describe("bytes a plan cannot be", () => {
  it("refuses a 5 MB file, naming the file and the limit, before reading it", () => {
    expect(planBytesProblem(F, 5 * 1024 * 1024, null)?.message).toBe(
      `WORKPLAN.md is 5242880 bytes; the limit is ${PLAN_MAX_BYTES} bytes`,
    );
    expect(planBytesProblem(F, PLAN_MAX_BYTES, null)).toBeNull();
  });

  it("refuses invalid UTF-8, naming the byte offset and the line", () => {
    const bytes = Buffer.concat([
      Buffer.from("# Plan\nline two \u00e9\n"),
      Buffer.from([0xc3, 0x28]),
    ]);
    expect(planBytesProblem(F, bytes.length, bytes)?.message).toBe(
      "WORKPLAN.md is not valid UTF-8: byte 19 (line 3) is 0xc3",
    );
  });

  it("finds overlongs, surrogates and truncated sequences; passes good UTF-8", () => {
    expect(invalidUtf8Offset(Buffer.from("ok é € 😀"))).toBe(-1);
    expect(invalidUtf8Offset(Buffer.from([0x41, 0xc0, 0xaf]))).toBe(1);
    expect(invalidUtf8Offset(Buffer.from([0xed, 0xa0, 0x80]))).toBe(0);
    expect(invalidUtf8Offset(Buffer.from([0x41, 0x42, 0xe2, 0x82]))).toBe(2);
    expect(invalidUtf8Offset(Buffer.from([0xf4, 0x90, 0x80, 0x80]))).toBe(0);
    expect(invalidUtf8Offset(Buffer.from([0xff]))).toBe(0);
  });
});

describe("approvalLineWords", () => {
  it("reads a simple pattern as the line it asks for, and shows any other as a pattern", () => {
    expect(approvalLineWords("^Approved:[[:space:]]+yes$")).toBe("'Approved: yes' line");
    expect(approvalLineWords("^Approved:\\s+yes$")).toBe("'Approved: yes' line");
    expect(approvalLineWords("^Approved: (yes|ok)$")).toBe(
      "line matching the approval pattern ^Approved: (yes|ok)$",
    );
  });
});
