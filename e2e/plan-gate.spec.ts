import { expect, test } from "@playwright/test";
import { fileWithCli, hyperion } from "./helpers";

// The `planned` repository's policy names WORKPLAN.md, whose approval line reads 'Approved: not
// yet' (e2e/prepare.ts): its plan gate is shut, and every page that shows its requests, and
// the CLI, say why and what to do.
const REASON = "WORKPLAN.md has no 'Approved: yes' line";

test.describe.configure({ mode: "serial" });
let id = 0;

test("a request of a repository gated by its plan says why its task waits", async ({ page }) => {
  test.setTimeout(60_000);
  id = await fileWithCli({
    title: `Planned docs ${Date.now()}`,
    description: "Explain the rounding.",
    repo: "planned",
    files: ["docs/guide.md"],
  });
  await page.goto(`/requests/${id}`);
  await expect(page.getByTestId("plan-gate-notice")).toContainText(
    `planned: no task is dispatched. ${REASON}. To open the gate: add the approval line`,
  );
  // The dispatcher holds the task back with the same reason.
  await expect(page.getByTestId("task-blocked-reason").first()).toContainText(
    `Plan gate: ${REASON}`,
    { timeout: 30_000 },
  );
  await page.getByTestId("plan-gate-notice").getByRole("link", { name: "Plan of planned" }).click();
  await expect(page).toHaveURL(/\/plans#plan-planned$/);
  const plan = page.getByTestId("plan-planned");
  await expect(plan.getByTestId("plan-state")).toHaveText("Gate shut: the plan has a problem");
  await expect(plan.getByTestId("plan-reason")).toContainText(REASON);
  // A plan with a problem cannot be approved, even by an admin.
  await expect(plan.getByRole("button", { name: /Approve/ })).toHaveCount(0);
});

test("the board filtered on the repository shows the reason", async ({ page }) => {
  await page.goto("/board?repo=planned");
  await expect(page.getByTestId("plan-gate-notice")).toContainText(REASON);
});

test("the CLI says it too: hyperion status and hyperion plan", async () => {
  const status = await hyperion(["status"]);
  expect(status.exitCode, status.stderr).toBe(0);
  expect(status.stdout).toContain(`plan gate planned: shut, no task is dispatched. ${REASON}.`);
  const plan = await hyperion(["plan", "planned"]);
  expect(plan.exitCode, plan.stderr).toBe(0);
  expect(plan.stdout).toContain(`why: ${REASON}`);
  expect(plan.stdout).toContain("to do: add the approval line to WORKPLAN.md");
  const approve = await hyperion(["plan", "approve", "planned"]);
  expect(approve.exitCode).not.toBe(0);
  expect(approve.stderr).toContain(REASON);
});
