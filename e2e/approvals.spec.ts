import { expect, test } from "@playwright/test";
import { fileWithCli, hyperion, signInViaApi, tabTo } from "./helpers";

// The `reviewed` repository (e2e/prepare.ts) is a copy of the demo with the default approval
// tiers: a medium change waits for one approval, a high one for a reviewer who opened the whole
// diff and says why in a comment. Its `cart` area belongs to a command agent that writes its
// prompt file into the task's file.

const PASSWORD = "e2e-user-password";

let users = 0;
async function addUser(role: "requester" | "reviewer" | "operator") {
  users += 1;
  const email = `${role}-${Date.now()}-${users}@example.test`;
  const res = await hyperion(["user", "add", email, "--role", role]);
  expect(res.exitCode, res.stderr).toBe(0);
  return email;
}

/** Files a request in `reviewed` as `as` (so that the reviewer is someone else). */
function fileReviewed(as: string, title: string, files: string[]) {
  const description = `Change ${files.join(", ")}.`;
  return fileWithCli({ title, description, repo: "reviewed", files }, as);
}

test.describe("approvals", () => {
  test.use({ storageState: { cookies: [], origins: [] } });
  // Requests a test leaves waiting are cancelled after it, pass or fail: a change waiting for a
  // reviewer holds its files' locks, and the next test would wait behind it.
  let cleanups: (() => Promise<unknown>)[] = [];
  test.afterEach(async () => {
    for (const undo of cleanups) await undo();
    cleanups = [];
  });

  test("a reviewer opens a high-risk change's whole diff, approves it with a comment, and it lands", async ({
    page,
  }) => {
    test.setTimeout(120_000);
    const requester = await addUser("requester");
    const reviewer = await addUser("reviewer");
    const title = `Cap the discount ${Date.now()}`;
    const id = await fileReviewed(requester, title, ["src/pricing/pricing.js"]);

    await page.goto("/signin");
    await page.getByLabel("Email").fill(reviewer);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page).toHaveURL(/\/history$/);
    // The header counts it once its checks have passed (live: the page is not reloaded).
    await expect(page.getByTestId("approval-count")).toHaveText(/^[1-9]\d* waiting$/, {
      timeout: 60_000,
    });

    // The request page says it waits, and links to it on /approvals.
    await page.goto(`/requests/${id}`);
    const waits = page.getByTestId("task-change").getByRole("link", {
      name: "waiting for approval",
    });
    await expect(waits).toHaveAttribute("href", /^\/approvals#entry-\d+$/, { timeout: 30_000 });
    const entryId = /entry-(\d+)/.exec((await waits.getAttribute("href")) ?? "")?.[1] ?? "";
    await page.goto("/queue");
    await expect(
      page.locator(`#entry-${entryId}`).getByRole("link", { name: "waiting for approval" }),
    ).toHaveAttribute("href", `/approvals#entry-${entryId}`);

    await page.getByRole("link", { name: /^Approvals/ }).click();
    await expect(page).toHaveURL(/\/approvals$/);
    const entry = page.locator(`#entry-${entryId}`);
    await expect(entry).toContainText(title);
    await expect(entry.getByTestId("approval-risk")).toHaveText("high risk");
    await expect(entry.getByTestId("approval-files")).toHaveText("src/pricing/pricing.js");
    await expect(entry.getByTestId("approval-checks")).toContainText("test passed");
    await expect(entry.getByTestId("approval-checks")).toContainText(
      /checks passed on [0-9a-f]{8}/,
    );
    await expect(entry.getByTestId("approval-progress")).toHaveText("0 of 1");
    await expect(entry.getByTestId("approval-tier")).toContainText("opened the whole diff");
    await expect(entry.getByRole("link", { name: new RegExp(`^R${id} `) })).toHaveAttribute(
      "href",
      `/requests/${id}`,
    );

    // Approve waits for the diff, and says so.
    const approve = entry.getByRole("button", { name: "Approve…" });
    await expect(approve).toBeDisabled();
    await expect(entry.getByTestId("approval-why-not")).toContainText("Open the full diff first");

    await entry.getByRole("button", { name: "Open the full diff" }).click();
    const viewer = entry.getByTestId("diff-viewer");
    await expect(viewer.getByTestId("diff-file-path")).toHaveText("src/pricing/pricing.js");
    await expect(viewer.locator("table.diff-unified")).toContainText("Hyperion note");
    // Highlighted: the built-in developer's line is a JavaScript comment.
    await expect(viewer.locator(".token.comment").first()).toContainText("Hyperion note");
    await viewer.getByRole("button", { name: "Side by side" }).click();
    await expect(viewer.locator("table.diff-split")).toContainText("Hyperion note");
    await expect(viewer.getByRole("button", { name: "Side by side" })).toHaveAttribute(
      "aria-pressed",
      "true",
    );
    await viewer.getByRole("button", { name: "Unified" }).click();
    await expect(viewer.locator("table.diff-unified")).toBeVisible();

    await expect(approve).toBeEnabled();
    await expect(entry.getByTestId("approval-why-not")).toHaveCount(0);
    await approve.click();
    const dialog = page.getByRole("dialog", { name: `Approve Q${entryId}?` });
    await expect(dialog).toContainText("goes back to the merge queue");
    const confirm = dialog.getByRole("button", { name: `Approve Q${entryId}` });
    // A high-risk approval needs a comment.
    await expect(confirm).toBeDisabled();
    await dialog.getByLabel(/Comment/).fill("Cap logic reviewed: totals stay in cents.");
    await confirm.click();
    await expect(dialog).toHaveCount(0);
    await expect(page.getByTestId("approval-notice")).toContainText(
      `Q${entryId} approved (1 of 1)`,
    );
    await expect(entry).toHaveCount(0);

    await page.goto(`/requests/${id}`);
    await expect(page.getByTestId("request-status")).toHaveText("Done", { timeout: 60_000 });
    await expect(page.getByTestId("review-approved")).toContainText(
      `approved by ${reviewer}: “Cap logic reviewed: totals stay in cents.”`,
    );

    // An operator rolls it back from its entry's page, through a dialog that says what goes.
    const operator = await addUser("operator");
    await signInViaApi(page.request, operator, PASSWORD);
    await page.goto(`/queue/${entryId}`);
    await expect(page.getByTestId("entry-state")).toHaveText("Merged");
    await expect(page.getByTestId("entry-timeline")).toContainText(
      `approved by ${reviewer}: Cap logic reviewed`,
    );
    await page.getByRole("button", { name: "Roll back…" }).click();
    const undo = page.getByRole("dialog", { name: `Roll back Q${entryId}?` });
    await expect(undo).toContainText("src/pricing/pricing.js");
    await expect(undo).toContainText("lands through the merge queue");
    await undo.getByRole("button", { name: "Roll back", exact: true }).click();
    // A toast says so, and the page itself (rendered from the server) names the revert.
    await expect(
      page.getByText(new RegExp(`^Revert of Q${entryId} queued as Q\\d+\\.$`)),
    ).toBeVisible();
    await expect(page.getByTestId("entry-reverted")).toContainText(
      /Rolled back: its revert C\d+ is Q\d+/,
    );
    await page.goto(`/requests/${id}`);
    await expect(page.getByTestId("request-status")).toHaveText("Rolled back", { timeout: 60_000 });
  });

  test("a medium change rejected with a reason goes back to an agent whose prompt carries it", async ({
    page,
  }) => {
    test.setTimeout(150_000);
    const requester = await addUser("requester");
    const reviewer = await addUser("reviewer");
    await signInViaApi(page.request, reviewer, PASSWORD);
    const title = `Round the cart ${Date.now()}`;
    const id = await fileReviewed(requester, title, ["src/cart/cart.js"]);

    await page.goto("/approvals");
    const entry = page.getByTestId("approval-entry").filter({ hasText: title });
    await expect(entry).toBeVisible({ timeout: 60_000 });
    await expect(entry.getByTestId("approval-risk")).toHaveText("medium risk");
    await expect(entry.getByTestId("approval-tier")).toContainText("needs one approval");
    const first = page.locator(`#entry-${await entry.getAttribute("data-entry")}`);

    await entry.getByRole("button", { name: "Reject…" }).click();
    const dialog = page.getByRole("dialog", { name: /^Reject Q\d+\?$/ });
    await expect(dialog).toContainText("dispatched again to an agent whose prompt carries");
    const confirm = dialog.getByRole("button", { name: /^Reject Q\d+$/ });
    await expect(confirm).toBeDisabled();
    const reason = `Totals must round to whole cents (${Date.now()})`;
    await dialog.getByLabel(/Reason/).fill(reason);
    await expect(dialog.getByLabel("Send it back to an agent with the reason")).toBeChecked();
    await confirm.click();
    await expect(dialog).toHaveCount(0);
    await expect(page.getByTestId("approval-notice")).toContainText(
      "its task goes back to an agent",
    );
    await expect(first).toHaveCount(0);

    // The request keeps the reason; its task is dispatched again to the command agent.
    await page.goto(`/requests/${id}`);
    await expect(page.getByTestId("review-rejected")).toContainText(reason);
    await expect(page.getByTestId("review-rejected")).toContainText(
      "went back to an agent with this reason",
    );
    const runLinks = page.getByTestId("request-runs").getByRole("link", { name: /^run \d+$/ });
    await expect(runLinks).toHaveCount(2, { timeout: 60_000 });
    await runLinks.last().click();
    await expect(page).toHaveURL(/\/runs\/\d+$/);
    // The page reads the prompt file when it is rendered: once the run is past its start.
    await expect(page.getByTestId("run-state").first()).toHaveText(/submitted/i, {
      timeout: 30_000,
    });
    await page.reload();
    await page.getByText("Prompt file", { exact: true }).click();
    const prompt = page.locator("details pre");
    await expect(prompt).toContainText("A reviewer rejected an earlier change for this task");
    await expect(prompt).toContainText(reason);

    // Its new change waits again, and the agent wrote the prompt (and so the reason) into it.
    await page.goto("/approvals");
    const again = page.getByTestId("approval-entry").filter({ hasText: title });
    await expect(again).toBeVisible({ timeout: 60_000 });
    await again.getByRole("button", { name: "Open the full diff" }).click();
    await expect(again.getByTestId("diff-viewer")).toContainText(reason);

    // This time the reviewer closes the task.
    await again.getByRole("button", { name: "Reject…" }).click();
    const close = page.getByRole("dialog", { name: /^Reject Q\d+\?$/ });
    await close.getByLabel(/Reason/).fill("Not wanted after all");
    await close.getByLabel("Close the task").check();
    await expect(close).toContainText("is closed as failed with your reason");
    await close.getByRole("button", { name: /^Reject Q\d+$/ }).click();
    await expect(page.getByTestId("approval-notice")).toContainText("its task is closed");
    await expect(again).toHaveCount(0);
    await page.goto(`/requests/${id}`);
    await expect(page.getByTestId("review-rejected").last()).toContainText("Not wanted after all");
    await expect(page.getByTestId("review-rejected").last()).toContainText("The task was closed.");
  });

  test("a requester sees her change wait for a reviewer, reads its diff, and finds it by status", async ({
    page,
  }) => {
    test.setTimeout(120_000);
    const requester = await addUser("requester");
    await signInViaApi(page.request, requester, PASSWORD);
    const title = `Round the basket ${Date.now()}`;
    const id = await fileReviewed(requester, title, ["src/cart/cart.js"]);
    // Cancelled at the end, so its change stops holding src/cart/cart.js for the tests after.
    cleanups.push(() => hyperion(["cancel", String(id), "--as", requester]));

    await page.goto(`/requests/${id}`);
    await expect(page.getByTestId("request-status")).toHaveText("Waiting for approval", {
      timeout: 60_000,
    });
    // Her link goes to the change on her own page, not to a page her role cannot open.
    const waits = page.getByTestId("task-change").getByRole("link", {
      name: "waiting for approval",
    });
    await expect(waits).toHaveAttribute("href", /^#waiting-C\d+$/);
    await waits.click();
    const change = page.getByTestId("waiting-change");
    await expect(change).toBeVisible();
    await expect(page.getByTestId("waiting-review")).toContainText(
      "a reviewer other than the requester decides",
    );
    await change.getByRole("button", { name: "Show the diff (read-only)" }).click();
    await expect(change.getByTestId("diff-viewer")).toContainText("src/cart/cart.js");
    await expect(page.getByRole("button", { name: /^Approve/ })).toHaveCount(0);

    // History's status filter has it.
    await page.goto("/history?status=awaiting_approval");
    await expect(page.getByTestId("history-row").filter({ hasText: title })).toBeVisible();
    await expect(page.getByLabel("Status")).toHaveValue("awaiting_approval");
  });

  test("/queue lists a task waiting to start behind a change that waits for a reviewer", async ({
    page,
  }) => {
    test.setTimeout(120_000);
    const requester = await addUser("requester");
    const operator = await addUser("operator");
    const stamp = Date.now();
    const first = await fileReviewed(requester, `Price the basket ${stamp}`, ["src/cart/cart.js"]);
    cleanups.push(() => hyperion(["cancel", String(first), "--as", requester]));
    await signInViaApi(page.request, operator, PASSWORD);
    await page.goto(`/requests/${first}`);
    await expect(page.getByTestId("request-status")).toHaveText("Waiting for approval", {
      timeout: 60_000,
    });
    const second = await fileReviewed(requester, `Total the basket ${stamp}`, ["src/cart/cart.js"]);
    cleanups.unshift(() => hyperion(["cancel", String(second), "--as", requester]));

    await page.goto("/queue");
    const row = page.locator(`[data-testid="waiting-task"][data-task="${second}.1"]`);
    await expect(row).toBeVisible({ timeout: 30_000 });
    await expect(row.getByTestId("waiting-reason")).toContainText(
      `Lock conflict: R${first}.1 currently holds overlapping lock key(s) reviewed:file:src/cart/cart.js`,
    );
    await expect(row.getByTestId("held-by-review")).toContainText("waits for a reviewer");
    await expect(row.getByRole("link", { name: `R${first}.1` }).first()).toHaveAttribute(
      "href",
      `/requests/${first}#task-${first}.1`,
    );
    // The waiting request's own page says the same, in the same words.
    await page.goto(`/requests/${second}`);
    await expect(page.getByTestId("task-blocked-reason")).toContainText(
      `Lock conflict: R${first}.1 currently holds`,
    );
  });

  test("the approve flow is reachable with the keyboard alone", async ({ page }) => {
    test.setTimeout(120_000);
    const requester = await addUser("requester");
    const reviewer = await addUser("reviewer");
    await signInViaApi(page.request, reviewer, PASSWORD);
    const title = `Keyboard review ${Date.now()}`;
    await fileReviewed(requester, title, [`src/pricing/keys-${Date.now()}.js`]);

    await page.goto("/approvals");
    const entry = page.getByTestId("approval-entry").filter({ hasText: title });
    await expect(entry).toBeVisible({ timeout: 60_000 });

    const openDiff = entry.getByRole("button", { name: "Open the full diff" });
    await tabTo(page, openDiff);
    await page.keyboard.press("Enter");
    await expect(entry.getByTestId("diff-viewer")).toBeVisible();

    // A dialog opened from the keyboard closes with Escape and gives the focus back.
    const reject = entry.getByRole("button", { name: "Reject…" });
    await tabTo(page, reject);
    await page.keyboard.press("Enter");
    await expect(page.getByRole("dialog")).toBeVisible();
    await page.keyboard.press("Escape");
    await expect(page.getByRole("dialog")).toHaveCount(0);
    await expect(reject).toBeFocused();

    const approve = entry.getByRole("button", { name: "Approve…" });
    await expect(approve).toBeEnabled();
    await tabTo(page, approve);
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog", { name: /^Approve Q\d+\?$/ });
    await expect(dialog).toBeVisible();
    const comment = dialog.getByLabel(/Comment/);
    await tabTo(page, comment);
    await page.keyboard.type("Read every line with the keyboard.");
    await tabTo(page, dialog.getByRole("button", { name: /^Approve Q\d+$/ }));
    await page.keyboard.press("Enter");
    await expect(dialog).toHaveCount(0);
    await expect(page.getByTestId("approval-notice")).toContainText("approved (1 of 1)");
    await expect(entry).toHaveCount(0);
  });

  test("rejecting the built-in developer's change says it cannot act on a reason, and hands the task to an agent the policy names", async ({
    page,
  }) => {
    test.setTimeout(150_000);
    const requester = await addUser("requester");
    const reviewer = await addUser("reviewer");
    await signInViaApi(page.request, reviewer, PASSWORD);
    const title = `Discount by the built-in developer ${Date.now()}`;
    const id = await fileReviewed(requester, title, ["src/pricing/pricing.js"]);

    await page.goto("/approvals");
    const entry = page.getByTestId("approval-entry").filter({ hasText: title });
    await expect(entry).toBeVisible({ timeout: 60_000 });
    await entry.getByRole("button", { name: "Reject…" }).click();
    const dialog = page.getByRole("dialog", { name: /^Reject Q\d+\?$/ });
    await expect(dialog.getByTestId("reject-builtin")).toContainText(
      "the built-in developer cannot act on a reason",
    );
    // No plain send-back: it would get the same change again.
    await expect(dialog.getByLabel("Send it back to an agent with the reason")).toHaveCount(0);
    await expect(dialog.getByLabel("Hand it to the command agent with the reason")).toBeChecked();
    await expect(dialog.getByLabel("Close the task")).toBeVisible();
    await expect(dialog).toContainText(
      "goes to the command agent, whose prompt carries your reason",
    );
    const reason = `Cap it at 50% (${Date.now()})`;
    await dialog.getByLabel(/Reason/).fill(reason);
    await dialog.getByRole("button", { name: /^Reject Q\d+$/ }).click();
    await expect(dialog).toHaveCount(0);
    await expect(page.getByTestId("approval-notice")).toContainText(
      "its task goes to the command agent with your reason",
    );

    // The request says who has it now; the command agent runs it with the reason.
    await page.goto(`/requests/${id}`);
    await expect(page.getByTestId("review-rejected")).toContainText(reason);
    await expect(page.getByTestId("review-rejected")).toContainText(
      "handed to the command agent with this reason",
    );
    const runLinks = page.getByTestId("request-runs").getByRole("link", { name: /^run \d+$/ });
    await expect(runLinks).toHaveCount(1, { timeout: 60_000 });
    await expect(page.getByTestId("request-runs")).toContainText("command");

    // Its new change (the agent's, not the same patch again) waits for review with the reason.
    await page.goto("/approvals");
    const again = page.getByTestId("approval-entry").filter({ hasText: title });
    await expect(again).toBeVisible({ timeout: 60_000 });
    await again.getByRole("button", { name: "Open the full diff" }).click();
    await expect(again.getByTestId("diff-viewer")).toContainText(reason);
    // An agent's change goes back the usual way; this one is closed, freeing the pricing area.
    await again.getByRole("button", { name: "Reject…" }).click();
    const last = page.getByRole("dialog", { name: /^Reject Q\d+\?$/ });
    await expect(last.getByTestId("reject-builtin")).toHaveCount(0);
    await expect(last.getByLabel("Send it back to an agent with the reason")).toBeChecked();
    await last.getByLabel(/Reason/).fill("Not wanted after all");
    await last.getByLabel("Close the task").check();
    await last.getByRole("button", { name: /^Reject Q\d+$/ }).click();
    await expect(page.getByTestId("approval-notice")).toContainText("its task is closed");
  });
});
