import { createHmac } from "node:crypto";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { git } from "@/server/git/run";
import { E2E_DATA } from "../playwright.config";
import { GITHUB_PORT, GITHUB_REPO, GITHUB_SECRET } from "./support/github";

// An issue labelled on (the fake) GitHub becomes a request; the built-in developer's change lands
// on the hub repository's git server; the issue's one comment ends "Done" with the commit.

const fake = `http://127.0.0.1:${GITHUB_PORT}`;

test("a labelled GitHub issue becomes a request, lands on the remote, and its comment ends Done with the commit", async ({
  page,
  request,
}) => {
  test.setTimeout(90_000);
  const n = Date.now();
  const issue = (await (
    await request.post(`${fake}/_fake/issues`, {
      data: {
        title: `Document the hub ${n}`,
        body: "Add a line to the guide.\n\n```files\ndocs/guide.md\n```\n",
        labels: ["hyperion", "area:docs"],
      },
    })
  ).json()) as { number: number; html_url: string; title: string };

  // GitHub delivers issues.labeled, signed with the webhook secret.
  const body = JSON.stringify({
    action: "labeled",
    issue: {
      ...issue,
      state: "open",
      user: { login: "octocat" },
      labels: [{ name: "hyperion" }, { name: "area:docs" }],
    },
    label: { name: "hyperion" },
    repository: { full_name: GITHUB_REPO, name: "hub", owner: { login: "acme" } },
    sender: { login: "octocat" },
  });
  const res = await request.post("/api/webhooks/github", {
    data: body,
    headers: {
      "content-type": "application/json",
      "x-github-event": "issues",
      "x-github-delivery": `e2e-${n}`,
      "x-hub-signature-256": `sha256=${createHmac("sha256", GITHUB_SECRET).update(body).digest("hex")}`,
    },
  });
  expect(res.status()).toBe(202);

  // The request appears in the history; its page names the issue and ends Done.
  await page.goto(`/history?q=${n}`);
  const link = page.getByRole("link", { name: new RegExp(`Document the hub ${n}`) });
  await expect(link).toBeVisible({ timeout: 20_000 });
  await link.click();
  await expect(page.getByTestId("request-issue")).toHaveText(
    `GitHub issue ${GITHUB_REPO}#${issue.number}`,
  );
  await expect(page.getByTestId("request-status")).toHaveText("Done", { timeout: 60_000 });

  // The change is on the git server's branch, and the issue's one comment says Done with it.
  const server = path.join(E2E_DATA, "servers", "hub.git");
  const tip = (await git(["rev-parse", "main"], { cwd: server })).trim();
  expect(await git(["log", "-1", "--format=%B", "main"], { cwd: server })).toContain(
    "Hyperion-Change-Request:",
  );
  // The one status comment is edited as the request moves: the landing's sha can show while its
  // status line still says In progress, so wait for the comment that has both.
  const doneWith = (body: string | undefined) =>
    body?.includes("**Done**") && body.includes(tip.slice(0, 12)) ? "Done with the commit" : body;
  await expect
    .poll(
      async () => {
        const comments = (await (
          await request.get(`${fake}/_fake/issues/${issue.number}/comments`)
        ).json()) as {
          body: string;
        }[];
        return comments.length === 1 ? doneWith(comments[0]?.body) : `${comments.length} comments`;
      },
      { timeout: 20_000 },
    )
    .toBe("Done with the commit");
});
