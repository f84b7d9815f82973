import { expect, type Page, test } from "@playwright/test";
import { fileWithCli, hyperion } from "./helpers";
import { Gate } from "./support/gate";

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
  await expect(page.locator('[data-testid="queue-event"][data-to="merged"]').first()).toBeVisible({
    timeout: 10_000,
  });
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
  await entry.getByRole("button", { name: "Retry…" }).click();
  await page
    .getByRole("dialog", { name: /^Retry Q\d+\?$/ })
    .getByRole("button", { name: "Retry", exact: true })
    .click();
  await expect(page.getByTestId("queue-outcome")).toContainText("is queued again");
  await expect(
    page.locator('[data-testid="queue-event"][data-from="quarantined"][data-to="queued"]').first(),
  ).toBeVisible({ timeout: 5_000 });
});

// The gated repository's one check waits at a gate (e2e/prepare.ts): failing it quarantines a
// request's change, whose entry then has a request and a task to link to.
test.describe("with the gated repository", () => {
  const gate = new Gate();
  test.describe.configure({ mode: "serial" });
  test.beforeAll(() => gate.start());
  test.afterAll(() => gate.stop());

  function fileGated(title: string, file: string) {
    return fileWithCli({ title, description: `Touch ${file}.`, repo: "gated", files: [file] });
  }

  async function quarantinedOnQueue(page: Page, title: string) {
    await page.goto("/queue");
    const entry = page.getByTestId("quarantined-entry").filter({ hasText: title });
    await expect(entry).toBeVisible({ timeout: 30_000 });
    const link = entry.getByRole("link", { name: /^Q\d+$/ }).first();
    const entryId = Number(((await link.textContent()) ?? "").slice(1));
    return { entry, entryId };
  }

  test("quarantined entries come first, link to their page and request, and are retried or dropped after a confirmation", async ({
    page,
  }) => {
    test.setTimeout(90_000);
    gate.set("fail");
    const stamp = Date.now();
    const retried = `Queue retry ${stamp}`;
    const dropped = `Queue drop ${stamp}`;
    const retriedId = await fileGated(retried, `src/q-retry-${stamp}.js`);
    const droppedId = await fileGated(dropped, `src/q-drop-${stamp}.js`);
    const { entry, entryId } = await quarantinedOnQueue(page, retried);
    await quarantinedOnQueue(page, dropped);

    // The operator's order: what needs them, then what is moving, then what finished.
    const headings = await page.getByRole("heading", { level: 2 }).allTextContents();
    const at = (name: string) => headings.findIndex((h) => h.startsWith(name));
    expect(at("Quarantined")).toBeGreaterThanOrEqual(0);
    expect(at("Quarantined")).toBeLessThan(at("Moving"));
    expect(at("Moving")).toBeLessThan(at("Recently finished"));
    expect(at("Recently finished")).toBeLessThan(at("Recent events"));

    // Why, the check's output, and links to the entry's page, its request and its task.
    await expect(entry).toContainText("check failed");
    await expect(entry.getByTestId("quarantined-output")).toContainText("the gate says fail");
    await expect(entry.getByRole("link", { name: `Q${entryId}`, exact: true })).toHaveAttribute(
      "href",
      `/queue/${entryId}`,
    );
    await expect(entry.getByRole("link", { name: `R${retriedId}`, exact: true })).toHaveAttribute(
      "href",
      `/requests/${retriedId}`,
    );
    await expect(
      entry.getByRole("link", { name: new RegExp(`^R${retriedId}\\.\\d+$`) }),
    ).toHaveAttribute("href", new RegExp(`^/requests/${retriedId}#task-${retriedId}\\.\\d+$`));

    // Retry asks first, saying what will happen; cancelling changes nothing.
    gate.set("pass");
    await entry.getByRole("button", { name: "Retry…" }).click();
    const dialog = page.getByRole("dialog", { name: `Retry Q${entryId}?` });
    await expect(dialog).toContainText("goes back to the queue with its attempts reset");
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await expect(dialog).toBeHidden();
    await expect(entry).toBeVisible();
    await entry.getByRole("button", { name: "Retry…" }).click();
    await dialog.getByRole("button", { name: "Retry", exact: true }).click();
    await expect(page.getByTestId("queue-outcome")).toHaveText(
      `Q${entryId} is queued again with fresh attempts; a queue thread picks it up next.`,
    );
    await expect(entry).toHaveCount(0);
    await expect(page.getByTestId("finished-table")).toContainText(retried, { timeout: 20_000 });

    // Drop says it never lands, then rejects the entry.
    const drop = page.getByTestId("quarantined-entry").filter({ hasText: dropped });
    await drop.getByRole("button", { name: "Drop…" }).click();
    const dropDialog = page.getByRole("dialog", { name: /^Drop Q\d+\?$/ });
    await expect(dropDialog).toContainText("will never land");
    await expect(dropDialog).toContainText(`R${droppedId} can be run again`);
    await dropDialog.getByRole("button", { name: "Drop it" }).click();
    await expect(page.getByTestId("queue-outcome")).toContainText("was dropped: it will not land");
    await expect(drop).toHaveCount(0);
    const droppedRow = page.getByTestId("finished-entry").filter({ hasText: dropped });
    await expect(droppedRow.locator('[data-state="rejected"]')).toHaveText("Rejected");

    // The entry's own page.
    await page
      .getByTestId("finished-entry")
      .filter({ hasText: retried })
      .getByRole("link", {
        name: /^Q\d+$/,
      })
      .click();
    await expect(page).toHaveURL(new RegExp(`/queue/${entryId}$`));
    await expect(page.getByTestId("entry-title")).toContainText(`Q${entryId}`);
    await expect(page.getByTestId("entry-state")).toHaveText("Merged");
  });

  test("the event filter narrows the log to one entry, one request or one kind of move, and keeps it in the URL", async ({
    page,
  }) => {
    test.setTimeout(60_000);
    gate.set("pass");
    const title = `Queue filter ${Date.now()}`;
    const requestId = await fileGated(title, `src/q-filter-${Date.now()}.js`);
    await page.goto("/queue");
    const row = page.getByTestId("finished-entry").filter({ hasText: title });
    await expect(row).toBeVisible({ timeout: 30_000 });
    const entryId = ((await row.getByRole("link", { name: /^Q\d+$/ }).textContent()) ?? "").trim();

    const events = page.getByTestId("queue-event");
    const all = await events.count();
    const filter = page.getByTestId("queue-event-filter");
    await filter.getByLabel("Entry, request or text").fill(entryId);
    await expect(page).toHaveURL(new RegExp(`[?&]q=${entryId}`));
    await expect(events.first()).toBeVisible();
    const mine = await events.count();
    expect(mine).toBeLessThan(all);
    for (const e of await events.all())
      await expect(e.getByRole("link", { name: entryId, exact: true })).toBeVisible();

    await filter.getByLabel("Event").selectOption("merged");
    await expect(events).toHaveCount(1);
    await expect(events.first()).toHaveAttribute("data-to", "merged");

    // By request: the same entry's moves, found by R12.
    await filter.getByLabel("Event").selectOption("");
    await filter.getByLabel("Entry, request or text").fill(`R${requestId}`);
    await expect(events).toHaveCount(mine);

    // Reloaded with the filters in the address, the log is filtered the same way.
    await page.goto(`/queue?event=merged&q=${entryId}`);
    await expect(events).toHaveCount(1);
    await filter.getByLabel("Entry, request or text").fill("Q999999");
    await expect(page.getByTestId("queue-events-empty")).toHaveText(
      "No recent event matches these filters.",
    );
  });

  test("on a phone, /queue, an entry's page, /runs and a run's page are no wider than the screen", async ({
    page,
  }) => {
    test.setTimeout(60_000);
    gate.set("pass");
    const title = `Phone note ${Date.now()}`;
    await fileGated(title, `notes/phone-${Date.now()}.md`);
    await page.setViewportSize({ width: 390, height: 844 });
    const fits = async () => {
      const { scroll, inner } = await page.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        inner: window.innerWidth,
      }));
      expect(scroll, page.url()).toBeLessThanOrEqual(inner);
    };

    await page.goto("/queue");
    await expect(page.getByTestId("queue-live")).toHaveText("● live");
    await expect(page.getByTestId("finished-entry").first()).toBeVisible();
    // Stacked: the table's header row is hidden and each cell names its column.
    await expect(page.getByTestId("finished-table").locator("thead")).toBeHidden();
    await fits();
    await page
      .getByTestId("finished-entry")
      .first()
      .getByRole("link", { name: /^Q\d+$/ })
      .click();
    await expect(page).toHaveURL(/\/queue\/\d+$/);
    await expect(page.getByTestId("entry-timeline")).toBeVisible();
    await fits();

    await page.goto("/runs");
    const run = page.getByTestId("run-row").first();
    await expect(run).toBeVisible({ timeout: 20_000 });
    await fits();
    await run.getByRole("link", { name: /^run \d+$/ }).click();
    await expect(page).toHaveURL(/\/runs\/\d+$/);
    await expect(page.getByTestId("run-log")).toBeVisible();
    await fits();
  });
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
