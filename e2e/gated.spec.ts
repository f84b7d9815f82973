import { expect, type Page, test } from "@playwright/test";
import { fileWithCli, hyperion } from "./helpers";
import { Gate } from "./support/gate";

// The `gated` repository's only check waits at this gate (e2e/prepare.ts), so each test decides
// when a change leaves `checking` and how, without sleeps.
const gate = new Gate();
test.describe.configure({ mode: "serial" });
test.beforeAll(() => gate.start());
test.afterAll(() => gate.stop());

function fileGated(title: string, file: string) {
  return fileWithCli({ title, description: `Touch ${file}.`, repo: "gated", files: [file] });
}

async function openLive(page: Page, id: number) {
  await page.goto(`/requests/${id}`);
  await expect(page.getByTestId("request-live")).toHaveText("● live");
}

let mergedTitle = "";
let mergedId = 0;

test("a request page shows its change checking, then merged, without a reload", async ({
  page,
}) => {
  test.setTimeout(60_000);
  gate.set("hold");
  mergedTitle = `Gated live ${Date.now()}`;
  mergedId = await fileGated(mergedTitle, "src/one.js");
  await openLive(page, mergedId);
  await gate.arrived();
  // The check is waiting at the gate: the change is checking, whenever the page opened.
  await expect(page.getByTestId("task-change")).toContainText("Running checks", {
    timeout: 20_000,
  });
  await expect(page.getByTestId("request-status")).toHaveText("In progress");
  gate.set("pass");
  await expect(page.getByTestId("task-change")).toContainText("Merged", { timeout: 20_000 });
  await expect(page.getByTestId("request-status")).toHaveText("Done");
});

test("a quarantined change retried from the queue turns its request done", async ({
  page,
  context,
}) => {
  test.setTimeout(60_000);
  gate.set("fail");
  const title = `Gated retry ${Date.now()}`;
  const id = await fileGated(title, "src/two.js");
  await openLive(page, id);
  await expect(page.getByTestId("request-status")).toHaveText("Failed", { timeout: 20_000 });
  await expect(page.getByTestId("task-change")).toContainText("Quarantined");

  // An operator retries it from the queue in another tab; the check passes this time.
  gate.set("pass");
  const queue = await context.newPage();
  await queue.goto("/queue");
  const entry = queue.getByTestId("quarantined-entry").filter({ hasText: title });
  await expect(entry).toContainText("check failed");
  await entry.getByRole("button", { name: "Retry…" }).click();
  await queue
    .getByRole("dialog", { name: /^Retry Q\d+\?$/ })
    .getByRole("button", { name: "Retry", exact: true })
    .click();

  // The request's own page follows, without a reload.
  await expect(page.getByTestId("task-change")).toContainText("Merged", { timeout: 20_000 });
  await expect(page.getByTestId("request-status")).toHaveText("Done");
});

test("rolling back a request's change turns the request rolled back, linked to the revert", async ({
  page,
  context,
}) => {
  test.setTimeout(60_000);
  expect(mergedId, "the first test merged a change").toBeGreaterThan(0);
  gate.set("pass");
  await openLive(page, mergedId);
  await expect(page.getByTestId("request-status")).toHaveText("Done");

  const queue = await context.newPage();
  await queue.goto("/queue");
  const row = queue.getByTestId("finished-table").getByRole("row").filter({ hasText: mergedTitle });
  await row.getByRole("button", { name: "Roll back…" }).click();
  // A dialog says what will happen before anything is queued.
  const dialog = queue.getByRole("dialog", { name: /^Roll back Q\d+\?$/ });
  await expect(dialog).toContainText("lands through the merge queue");
  await dialog.getByRole("button", { name: "Roll back", exact: true }).click();

  await expect(page.getByTestId("request-status")).toHaveText("Rolled back", { timeout: 20_000 });
  await expect(page.getByTestId("task-change")).toContainText("Rolled back");
  await expect(page.getByTestId("task-revert")).toContainText(
    /reverted by C\d+ Q\d+ \(merged [0-9a-f]{12}\)/,
  );
  const banner = page.getByTestId("rolled-back");
  await expect(banner).toContainText("This request's work was rolled back.");
  await expect(banner.getByRole("link", { name: /^Q\d+$/ })).toHaveAttribute(
    "href",
    /^\/queue\/\d+$/,
  );
  await page.reload();
  await expect(page.getByTestId("request-status")).toHaveText("Rolled back");
});

test("a requester whose request failed sees the check's output, opens it to re-file, and runs it again", async ({
  browser,
}) => {
  test.setTimeout(90_000);
  const email = `req-${Date.now()}@example.test`;
  expect((await hyperion(["user", "add", email, "--role", "requester"])).exitCode).toBe(0);
  gate.set("fail");
  const title = `Requester's own ${Date.now()}`;
  const res = await hyperion(
    ["request", "-", "--json", "--allow-new-files", "--as", email],
    JSON.stringify({ title, description: "Touch it.", repo: "gated", files: ["src/three.js"] }),
  );
  expect(res.exitCode, res.stderr).toBe(0);
  const [{ id }] = JSON.parse(res.stdout) as [{ id: number }];

  const context = await browser.newContext({ storageState: { cookies: [], origins: [] } });
  const page = await context.newPage();
  await page.goto("/signin");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("e2e-user-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/history$/);
  await page.goto(`/requests/${id}`);
  await expect(page.getByTestId("request-status")).toHaveText("Failed", { timeout: 30_000 });
  await page.reload();
  const recovery = page.getByTestId("request-recovery");
  await expect(recovery.getByTestId("failure-output")).toContainText("the gate says fail");

  // A new request like it starts from this request's fields.
  await recovery.getByRole("link", { name: "File a new request like it" }).click();
  await expect(page.getByTestId("refile-note")).toContainText(title);
  await expect(page.getByLabel("Title")).toHaveValue(title);
  await expect(page.getByLabel(/^Files/)).toHaveValue("src/three.js");

  // Or, the cause fixed, run it again.
  await page.goto(`/requests/${id}`);
  gate.set("pass");
  await page.getByRole("button", { name: "Run it again…" }).click();
  const dialog = page.getByRole("dialog", { name: `Run R${id} again?` });
  await expect(dialog).toContainText("dispatched again");
  await dialog.getByRole("button", { name: "Run it again", exact: true }).click();
  // The outcome as a toast: which tasks were dispatched anew.
  await expect(page.getByText(new RegExp(`^R${id} runs again: R${id}\\.1`))).toBeVisible();
  await expect(page.getByTestId("request-status")).toHaveText("Done", { timeout: 30_000 });
  await context.close();
});
