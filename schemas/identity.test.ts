import { describe, expect, it } from "vitest";
import { ChangeRequest } from "./change-request";
import { GitIdentity, gitIdentityProblem } from "./identity";
import { fieldIssues } from "./issues";

const change = { repo: "demo", patch: "diff", summary: "s" };

describe("git identities", () => {
  it.each([
    ["dependabot", "dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com"],
    ["a GitHub noreply address", "Octo Cat", "583231+octocat@users.noreply.github.com"],
    ["a unicode name", "Zoë Ågren-Łukasiewicz 李小龍", "zoe@example.test"],
    ["a single-label domain", "Admin", "admin@localhost"],
    ["a unicode email", "Jürgen", "jürgen@bücher.example"],
  ])("accepts %s", (_, name, email) => {
    expect(gitIdentityProblem("name", name)).toBeNull();
    expect(gitIdentityProblem("email", email)).toBeNull();
    const parsed = ChangeRequest.parse({ ...change, author: { name, email } });
    expect(parsed.author).toEqual({ name, email });
  });

  it("trims both fields", () => {
    expect(GitIdentity.parse({ name: "  Ada  ", email: " ada@example.test\t" })).toEqual({
      name: "Ada",
      email: "ada@example.test",
    });
  });

  it.each([
    ["'<' in the email", { email: "a<b@x" }, "author.email", /without '<', '>'/],
    ["'>' in the name", { name: "Eve >" }, "author.name", /without '<', '>'/],
    ["a newline in the name", { name: "a\nb" }, "author.name", /one line/],
    ["a newline in the email", { email: "a@x\ny" }, "author.email", /one line/],
    ["a NUL in the email", { email: "a\u0000@x" }, "author.email", /NUL/],
    ["an empty name", { name: "" }, "author.name", /^is required$/],
    ["a blank name", { name: "   " }, "author.name", /^is required$/],
    ["an empty email", { email: "" }, "author.email", /^is required$/],
    ["an email without '@'", { email: "nobody" }, "author.email", /one '@'/],
    ["an email with two '@'", { email: "a@b@c" }, "author.email", /one '@'/],
    ["an email with nothing before '@'", { email: "@x" }, "author.email", /one '@'/],
    ["an email with nothing after '@'", { email: "a@" }, "author.email", /one '@'/],
    ["a 201-character name", { name: "n".repeat(201) }, "author.name", /at most 200/],
    [
      "a 255-character email",
      { email: `${"e".repeat(248)}@x.test` },
      "author.email",
      /at most 254/,
    ],
    ["a number for a name", { name: 7 }, "author.name", /text/],
  ])("refuses %s, naming the field", (_, bad, at, why) => {
    const author = { name: "Ada", email: "ada@example.test", ...bad };
    const result = ChangeRequest.safeParse({ ...change, author });
    expect(result.success).toBe(false);
    const issues = fieldIssues(result.error ?? expect.fail("parsed"));
    expect(issues).toHaveLength(1);
    expect(issues[0]?.path).toBe(at);
    expect(issues[0]?.message).toMatch(why);
    const field = at.split(".")[1] as "name" | "email";
    expect(gitIdentityProblem(field, author[field])).toMatch(new RegExp(`^${field}: `));
  });

  it("takes 200 and 254 characters exactly", () => {
    expect(gitIdentityProblem("name", "n".repeat(200))).toBeNull();
    expect(gitIdentityProblem("email", `${"e".repeat(247)}@x.test`)).toBeNull();
  });

  it("refuses unknown fields in an author", () => {
    const result = GitIdentity.safeParse({ name: "A", email: "a@x", date: "now" });
    expect(result.success).toBe(false);
  });
});
