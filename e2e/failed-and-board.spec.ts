import { type Browser, expect, type Page, test } from "@playwright/test";
import { fileWithCli, hyperion } from "./helpers";
import { Gate } from "./support/gate";

// Issue 23: a failed request is no dead end (edit and plan again, close with a reason), the
// board with its "Mine" filters, and the notifications a requester and a reviewer get.
const gate = new Gate();
test.describe.configure({ mode: "serial" });
test.beforeAll(() => gate.start());
test.afterAll(() => gate.stop());

let n = 0;
const unique = () => `${Date.now()}-${++n}`;

async function addUser(role: "requester" | "reviewer") {
  const email = `${role}-${unique()}@example.test`;
  const res = await hyperion(["user", "add", email, "--role", role]);
  expect(res.exitCode, res.stderr).toBe(0);
  return email;
}

async function signedIn(browser: Browser, email: string): Promise<Page> {
  const context = await browser.newContext({ storageState: { cookies: [], origins: [] } });
  const page = await context.newPage();
  await page.goto("/signin");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("e2e-user-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/history$/);
  return page;
}

/** A request of `email` in the gated repository whose check fails: it ends failed. */
async function failedRequest(page: Page, email: string, title: string) {
  gate.set("fail");
  const id = await fileWithCli(
    { title, description: "Touch it.", repo: "gated", files: [`src/f-${unique()}.js`] },
    email,
  );
  await page.goto(`/requests/${id}`);
  await expect(page.getByTestId("request-status")).toHaveText("Failed", { timeout: 40_000 });
  await expect(page.getByTestId("request-live")).toHaveText("● live");
  return id;
}

test("a requester edits her failed request and plans it again: the old task is replaced, the new one lands", async ({
  browser,
}) => {
  test.setTimeout(120_000);
  const email = await addUser("requester");
  const page = await signedIn(browser, email);
  const id = await failedRequest(page, email, `Failed then edited ${unique()}`);

  await page.getByRole("button", { name: "Edit and plan again…" }).click();
  const form = page.getByTestId("edit-form");
  await expect(form).toContainText("Its failed tasks are replaced by the new plan");
  // Bad input names the field, and nothing is sent.
  await form.getByLabel("Title").fill("");
  await form.getByRole("button", { name: "Save and plan again" }).click();
  await expect(form.getByRole("alert").first()).toContainText(/title/i);

  gate.set("pass");
  const title = `Edited and planned again ${unique()}`;
  await form.getByLabel("Title").fill(title);
  await form.getByRole("button", { name: "Save and plan again" }).click();
  await expect(page.getByTestId("request-title")).toHaveText(`R${id} ${title}`, {
    timeout: 20_000,
  });
  const tasks = page.getByTestId("task-row");
  await expect(tasks.filter({ hasText: `R${id}.1` })).toContainText("Replaced by a new plan");
  await expect(tasks.filter({ hasText: `R${id}.2` })).toBeVisible();
  await expect(page.getByTestId("request-status")).toHaveText("Done", { timeout: 40_000 });
  await page.context().close();
});

test("a requester closes her failed request with a reason; the page shows it from then on", async ({
  browser,
}) => {
  test.setTimeout(90_000);
  const email = await addUser("requester");
  const page = await signedIn(browser, email);
  const id = await failedRequest(page, email, `Failed then closed ${unique()}`);

  await page.getByRole("button", { name: "Close with a reason…" }).click();
  const dialog = page.getByRole("dialog", { name: `Close R${id}?` });
  await expect(dialog).toContainText("What already landed stays");
  // No reason: the dialog says what to write, and stays open.
  await dialog.getByRole("button", { name: "Close it", exact: true }).click();
  await expect(dialog.getByRole("alert")).toHaveText(/Reason: say why you close it/);
  await expect(page.getByTestId("request-status")).toHaveText("Failed");

  await dialog.getByLabel("Reason").fill("Filed twice: R1 does the same.");
  await dialog.getByRole("button", { name: "Close it", exact: true }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByText(`R${id} closed.`)).toBeVisible();
  await expect(page.getByTestId("request-status")).toHaveText("Cancelled");
  await expect(page.getByTestId("closed")).toContainText(`Closed by ${email}:`);
  await expect(page.getByTestId("closed-reason")).toHaveText("Filed twice: R1 does the same.");
  await page.reload();
  await expect(page.getByTestId("closed-reason")).toHaveText("Filed twice: R1 does the same.");
  // Closed is the end: no edit, no close, no cancel.
  await expect(page.getByRole("button", { name: "Close with a reason…" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Edit and plan again…" })).toHaveCount(0);
  await page.context().close();
});

test("the board shows requests in columns, live, filtered by links and selects; hostile filters say so", async ({
  browser,
}) => {
  test.setTimeout(90_000);
  const email = await addUser("requester");
  const page = await signedIn(browser, email);
  await page.getByRole("link", { name: "Board", exact: true }).first().click();
  await expect(page).toHaveURL(/\/board$/);
  await expect(page.getByRole("heading", { name: "Board", level: 1 })).toBeVisible();
  await expect(page.getByTestId("board-live")).toHaveText("● live");

  // A request she files appears without a reload, in the column of its status.
  const title = `On the board ${unique()}`;
  const id = await fileWithCli(
    { title: `${title}`, description: "Improve things.", repo: "demo" },
    email,
  );
  const card = page.locator(`[data-testid="board-card"][data-request="${id}"]`);
  await expect(card).toContainText(title, { timeout: 20_000 });
  await expect(
    page.getByTestId("board-column-person").locator(`[data-request="${id}"]`),
  ).toBeVisible({ timeout: 20_000 });

  // Mine: filed by me, waiting for me (her question) — links, kept in the URL.
  await page.getByRole("link", { name: "Filed by me" }).click();
  await expect(page).toHaveURL(/\/board\?mine=filed$/);
  await expect(page.getByTestId("board-card")).toHaveCount(1);
  await page.getByRole("link", { name: "Waiting for me" }).click();
  await expect(page).toHaveURL(/mine=waiting/);
  await expect(page.locator(`[data-request="${id}"]`)).toBeVisible();
  // Selects apply together with it.
  await page.getByLabel("Kind").selectOption("feature");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page).toHaveURL(/kind=feature/);

  // The same "Mine" on the history.
  await page.goto("/history?mine=filed");
  await expect(page.getByRole("row").filter({ hasText: title })).toBeVisible();
  await expect(page.getByLabel("Mine")).toHaveValue("filed");

  // Hostile values: a clear message, nothing runs, the page stays whole.
  let dialogs = 0;
  page.on("dialog", () => dialogs++);
  await page.goto(`/board?repo=${encodeURIComponent("<script>alert(1)</script>")}&mine=all`);
  const problem = page.getByTestId("board-no-match");
  await expect(problem).toContainText("No repository called '<script>alert(1)</script>'.");
  await expect(problem).toContainText("No 'mine' filter called 'all' (filed or waiting).");
  await page.goto(`/board?kind=${"k".repeat(5000)}`);
  await expect(page.getByTestId("board-no-match")).toContainText(
    `No kind called '${"k".repeat(60)}…'`,
  );
  await page.getByTestId("board-no-match").getByRole("link", { name: "Clear filters" }).click();
  await expect(page).toHaveURL(/\/board$/);
  expect(dialogs).toBe(0);
  const api = await page.request.get(
    `/api/trpc/request.board?input=${encodeURIComponent(JSON.stringify({ kind: "<script>" }))}`,
  );
  expect(api.status()).toBe(400);
  expect(await api.text()).toContain("kind");
  await page.context().close();
});

test("notifications: a requester learns of her question and her failed request; a reviewer of a change waiting for her", async ({
  browser,
}) => {
  test.setTimeout(120_000);
  const ana = await addUser("requester");
  const rita = await addUser("reviewer");
  const page = await signedIn(browser, ana);
  const count = page.getByTestId("notification-count");
  await expect(count).toHaveText(/^0/);

  const question = await fileWithCli(
    { title: `A vague wish ${unique()}`, description: "Improve things.", repo: "demo" },
    ana,
  );
  await failedRequest(page, ana, `Will fail ${unique()}`);
  // The bell counts them (it asks every 10 s and on focus; a reload asks at once).
  await page.reload();
  await expect(count).toHaveText(/^2/, { timeout: 20_000 });
  await page.getByTestId("notifications-link").click();
  await expect(page).toHaveURL(/\/notifications$/);
  const list = page.getByTestId("notification");
  await expect(list.filter({ hasText: `R${question}` })).toContainText("has a question for you");
  await expect(list.filter({ hasText: "Will fail" })).toContainText("failed");
  await expect(list.first()).toHaveAttribute("data-unread", "true");
  // Opening the list reads them: the bell goes back to 0, the list keeps them.
  await expect(count).toHaveText(/^0/, { timeout: 20_000 });
  await page.reload();
  await expect(list.first()).toHaveAttribute("data-unread", "false");

  // A high-risk change of ana's waits for a reviewer: rita hears of it, ana does not.
  const waiting = `Cap the discount ${unique()}`;
  await fileWithCli(
    {
      title: waiting,
      description: "Change src/pricing/pricing.js.",
      repo: "reviewed",
      files: ["src/pricing/pricing.js"],
    },
    ana,
  );
  const reviewer = await signedIn(browser, rita);
  await reviewer.goto("/notifications");
  await expect(async () => {
    await reviewer.reload();
    await expect(reviewer.getByTestId("notification").filter({ hasText: waiting })).toContainText(
      "has a change waiting for your approval",
      { timeout: 1000 },
    );
  }).toPass({ timeout: 60_000 });
  await page.goto("/notifications");
  await expect(page.getByTestId("notification").filter({ hasText: waiting })).toHaveCount(0);
  // Release the pricing area for later specs: reject the change for good.
  const list2 = await hyperion(["approvals", "--json"]);
  const rows = JSON.parse(list2.stdout) as { entryId: number; request: { title: string } | null }[];
  for (const row of rows.filter((r) => r.request?.title === waiting))
    await hyperion(["reject", String(row.entryId), "--reason", "Only for the test.", "--close"]);
  await page.context().close();
  await reviewer.context().close();
});
