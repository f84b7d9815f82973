import { expect, test } from "@playwright/test";
import { hyperion } from "./helpers";

// The gated repository gives its `notes` and `slow` areas to a `command` agent (e2e/prepare.ts):
// a real confined process in a workspace of its own.
async function fileGated(title: string, file: string) {
  // The file is new: the agent creates it.
  const res = await hyperion(
    ["request", "-", "--json", "--allow-new-files"],
    JSON.stringify({ title, description: `Touch ${file}.`, repo: "gated", files: [file] }),
  );
  expect(res.exitCode, res.stderr).toBe(0);
  const [created] = JSON.parse(res.stdout) as [{ id: number }];
  return created.id;
}

test("a command agent's run edits its file; its request lists it and the run page shows the log and change", async ({
  page,
}) => {
  test.setTimeout(60_000);
  const title = `Agent note ${Date.now()}`;
  const id = await fileGated(title, `notes/n-${Date.now()}.md`);
  await page.goto(`/requests/${id}`);
  await expect(page.getByTestId("request-status")).toHaveText("Done", { timeout: 40_000 });
  const runs = page.getByTestId("request-runs");
  await expect(runs).toContainText("command");
  await runs.getByRole("link").first().click();

  await expect(page).toHaveURL(/\/runs\/\d+$/);
  await expect(page).toHaveTitle(/^Run \d+ · Hyperion$/);
  await expect(page.getByTestId("run-state").first()).toHaveText(/submitted/i);
  await expect(page.getByTestId("run-log")).toContainText("edited notes/n-");
  await expect(page.getByTestId("run-change")).toContainText(/merged/i);

  await page.goto("/runs");
  await expect(page.getByTestId("runs-table")).toBeVisible();
  await page.goto("/runs?state=nonsense");
  await expect(page.getByText(/nonsense/)).toBeVisible();
});

test("an operator stops a run that is going, and the same steer sent twice acts once", async ({
  page,
}) => {
  test.setTimeout(60_000);
  const title = `Slow agent ${Date.now()}`;
  await fileGated(title, `slow/s-${Date.now()}.md`);
  await page.goto("/runs?state=running");
  const row = page.getByTestId("run-row").first();
  await expect(row).toBeVisible({ timeout: 20_000 });
  await row.getByRole("link").first().click();
  await expect(page.getByTestId("run-log")).toContainText("thinking", { timeout: 20_000 });
  const runId = /\/runs\/(\d+)$/.exec(page.url())?.[1] ?? "";

  // The CLI sends the same source event twice: one command is recorded.
  for (let i = 0; i < 2; i++) {
    const res = await hyperion([
      "steer",
      runId,
      "append_context",
      "--reason",
      "Mind the tone of the notes",
      "--event",
      `e2e-${runId}`,
    ]);
    expect(res.exitCode, res.stderr).toBe(0);
  }
  await expect(page.getByTestId("run-steer")).toHaveCount(1, { timeout: 10_000 });
  await expect(page.getByTestId("run-steer-outcome")).toContainText("next session's prompt");

  const form = page.getByTestId("steer-form");
  await form.getByLabel("Command").selectOption("stop_and_requeue");
  await form.getByLabel(/Reason/).fill("Wrong approach");
  await form.getByRole("button", { name: "Send" }).click();
  await expect(page.getByTestId("run-state").first()).toHaveText(/stopped/i, { timeout: 15_000 });
  await expect(page.getByTestId("run-failure")).toContainText("stop_and_requeue: Wrong approach");
});
