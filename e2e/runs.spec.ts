import { expect, test } from "@playwright/test";
import { hyperion } from "./helpers";

// The gated repository gives its `notes` and `slow` areas to a `command` agent (e2e/prepare.ts):
// a real confined process in a workspace of its own.
async function fileGated(title: string, file: string, description = `Touch ${file}.`) {
  // The file is new: the agent creates it.
  const res = await hyperion(
    ["request", "-", "--json", "--allow-new-files"],
    JSON.stringify({ title, description, repo: "gated", files: [file] }),
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
  // The run ended at "submitted"; the page follows its change to the end, in its timeline too.
  await expect(page.getByTestId("run-change-outcome")).toContainText("Merged");
  await expect(page.getByTestId("run-timeline")).toContainText(
    "Change submitted to the merge queue",
  );
  await expect(page.getByTestId("run-timeline")).toContainText("Change: merged");

  await page.goto("/runs");
  await expect(page.getByTestId("runs-table")).toBeVisible();
  await page.goto("/runs?state=nonsense");
  await expect(page.getByText(/nonsense/)).toBeVisible();
});

test("an agent's failure shows the end of its stderr on the run page and in the task's reason", async ({
  page,
}) => {
  test.setTimeout(60_000);
  const id = await fileGated(`Broken agent ${Date.now()}`, `notes/broken-${Date.now()}.md`);
  await page.goto(`/requests/${id}`);
  await expect(page.getByTestId("request-status")).toHaveText("Failed", { timeout: 40_000 });
  await expect(page.getByTestId("task-table")).toContainText(
    "its stderr says: Error: Cannot find module",
  );
  await page
    .getByTestId("request-runs")
    .getByRole("link", { name: /^run \d+$/ })
    .click();
  await expect(page).toHaveURL(/\/runs\/\d+$/);
  const failure = page.getByTestId("run-failure");
  await expect(failure).toContainText("the agent failed: exited with code 1");
  const stderr = page.getByTestId("run-stderr");
  await expect(stderr).toContainText("Error: Cannot find module");
  // The last 20 lines: the first five trace lines are gone.
  await expect(stderr).toContainText("trace line 24");
  await expect(stderr).not.toContainText("trace line 4\n");
  await expect(stderr).not.toContainText("trace line 6");
});

test("an agent that finds nothing to change ends its task done, with its reason; a path only the description names is suggested, not scoped", async ({
  page,
}) => {
  test.setTimeout(60_000);
  const file = `notes/nothing-${Date.now()}.md`;
  const id = await fileGated(
    `Nothing to do ${Date.now()}`,
    file,
    `Touch ${file}, as line 3 of README.md says.`,
  );
  await page.goto(`/requests/${id}`);
  await expect(page.getByTestId("request-status")).toHaveText("Done", { timeout: 40_000 });
  await expect(page.getByTestId("spec-suggested-files")).toContainText("README.md");
  await expect(page.getByTestId("task-table")).not.toContainText("README.md");
  await expect(page.getByTestId("task-no-change")).toHaveText(
    "No change needed: Nothing to change: the note already says it.",
  );
  await page
    .getByTestId("request-runs")
    .getByRole("link", { name: /^run \d+$/ })
    .click();
  await expect(page.getByTestId("run-state").first()).toHaveText("No change needed");
  await expect(page.getByTestId("run-no-change")).toContainText(
    "Nothing to change: the note already says it.",
  );
  await expect(page.getByTestId("run-failure")).toHaveCount(0);
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
