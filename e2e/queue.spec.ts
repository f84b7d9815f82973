import { expect, test } from "@playwright/test";
import { hyperion } from "./helpers";

const author = { name: "E2E Agent", email: "agent@example.test" };

function newFilePatch(file: string, line: string) {
  return [
    `diff --git a/${file} b/${file}`,
    "new file mode 100644",
    "--- /dev/null",
    `+++ b/${file}`,
    "@@ -0,0 +1 @@",
    `+${line}`,
    "",
  ].join("\n");
}

test("an operator watches a change land live, and retries a quarantined one", async ({ page }) => {
  await page.goto("/queue");
  await expect(page.getByTestId("queue-live")).toHaveText("● live");
  await expect(page.getByTestId("thread-pane")).toHaveCount(3);

  const file = `docs/e2e-${Date.now()}.md`;
  const ok = await hyperion(
    ["submit", "-"],
    JSON.stringify({
      repo: "demo",
      patch: newFilePatch(file, "hello"),
      summary: "E2E: add a doc",
      author,
    }),
  );
  expect(ok.exitCode, ok.stderr).toBe(0);
  await expect(
    page.getByTestId("queue-event").filter({ hasText: "ready → merged" }).first(),
  ).toBeVisible({ timeout: 10_000 });
  await expect(page.getByTestId("finished-table")).toContainText("E2E: add a doc");

  // The same new file again cannot apply: it already exists. Two attempts, then quarantine.
  const bad = await hyperion(
    ["submit", "-"],
    JSON.stringify({
      repo: "demo",
      patch: newFilePatch(file, "again"),
      summary: "E2E: collide",
      author,
    }),
  );
  expect(bad.exitCode, bad.stderr).toBe(0);
  const entry = page.getByTestId("quarantined-entry").filter({ hasText: "E2E: collide" });
  await expect(entry).toBeVisible({ timeout: 15_000 });
  await expect(entry).toContainText("conflict");
  await expect(entry).toContainText(file);
  await expect(entry).toContainText("Rebase the task's work");
  await entry.getByRole("button", { name: "Retry" }).click();
  await expect(
    page.getByTestId("queue-event").filter({ hasText: "quarantined → queued" }).first(),
  ).toBeVisible({ timeout: 5_000 });
});

test.describe("as a requester", () => {
  test.use({ storageState: { cookies: [], origins: [] } });
  test("the queue page and its procedures are refused", async ({ page }) => {
    await hyperion(["user", "add", "req2@example.test", "--role", "requester"]);
    await page.goto("/signin");
    await page.getByLabel("Email").fill("req2@example.test");
    await page.getByLabel("Password").fill("e2e-user-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page).toHaveURL(/\/history$/);
    await page.goto("/queue");
    await expect(page.getByTestId("forbidden")).toBeVisible();
    expect((await page.request.get("/api/trpc/queue.overview")).status()).toBe(403);
  });
});
