import { expect, test } from "@playwright/test";
import { ADMIN } from "../playwright.config";
import { hyperion } from "./helpers";

test.describe("signing in", () => {
  test.use({ storageState: { cookies: [], origins: [] } });

  test("a signed-out visitor is sent to sign in and comes back after", async ({ page }) => {
    await page.goto("/history");
    await expect(page).toHaveURL(/\/signin\?callbackUrl=%2Fhistory/);
    await page.getByLabel("Email").fill(ADMIN.email);
    await page.getByLabel("Password").fill("not the password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("alert").filter({ hasText: "Wrong" })).toHaveText(
      "Wrong email or password.",
    );
    await page.getByLabel("Password").fill(ADMIN.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page).toHaveURL(/\/history$/);
    await expect(page.getByRole("heading", { name: "Task history" })).toBeVisible();
  });

  test("an API call without a session is refused with 401", async ({ request }) => {
    const res = await request.get("/api/trpc/request.list");
    expect(res.status()).toBe(401);
  });
});

test("file a request, fix a field error, and see it in history", async ({ page }) => {
  await page.goto("/requests/new");
  await page.getByLabel("Title").fill("Explain <b>discount</b> caps");
  await page.getByLabel("Description").fill("The guide should say discounts cap at 100%.");
  await page.getByLabel(/^Files/).fill("docs/guide.md\n../outside.md");
  await page.getByRole("button", { name: "File request" }).click();
  await expect(page.getByTestId("error-files")).toHaveText(
    "“../outside.md” must stay inside the repository",
  );

  await page.getByLabel(/^Files/).fill("docs/guide.md");
  await page.getByRole("button", { name: "File request" }).click();
  await expect(page.getByRole("status").filter({ hasText: "filed" })).toContainText("filed");
  await expect(page.getByTestId("request-title")).toContainText("Explain <b>discount</b> caps");

  await page.getByRole("link", { name: "History" }).first().click();
  const row = page.getByTestId("history-row").filter({ hasText: "Explain <b>discount</b> caps" });
  await expect(row).toBeVisible();
  // The worker's dispatcher picks it up at once, so its status moves on from "received".
  await expect(row).toContainText(/Received|Planned|In progress|Done/);
  await expect(row).toContainText(ADMIN.email);
});

test("a request filed with the CLI appears in an open history page", async ({ page }) => {
  await page.goto("/history");
  await expect(page.getByTestId("live-state")).toHaveText("● live");
  const title = `From the CLI ${Date.now()}`;
  const res = await hyperion(
    ["request", "-"],
    JSON.stringify({ title, description: "", repo: "demo" }),
  );
  expect(res.exitCode, res.stderr).toBe(0);
  await expect(page.getByTestId("history-row").first()).toContainText(title, { timeout: 3_000 });
});

test("history filters by status and repository", async ({ page }) => {
  // Other specs cancel requests (a change left waiting for a reviewer would hold its files): the
  // filter lists those and nothing else.
  await page.goto("/history?status=cancelled");
  const states = page.getByTestId("history-row").locator("[data-state]");
  for (const state of await states.evaluateAll((els) =>
    els.map((e) => e.getAttribute("data-state")),
  ))
    expect(state).toBe("cancelled");
  await page.goto("/history?status=cancelled&q=no-request-has-this-title");
  await expect(page.getByTestId("history-row")).toHaveCount(0);
  await page.goto("/history?repo=demo&status=needs_clarification");
  await expect(page.getByTestId("history-row").first()).toBeVisible();
});

test("a requester is refused an admin page and admin procedures", async ({ browser, baseURL }) => {
  const add = await hyperion(["user", "add", "req@example.test", "--role", "requester"]);
  expect(add.exitCode, add.stderr).toBe(0);
  const context = await browser.newContext({ baseURL, storageState: { cookies: [], origins: [] } });
  const page = await context.newPage();
  await page.goto("/signin");
  await page.getByLabel("Email").fill("req@example.test");
  await page.getByLabel("Password").fill("e2e-user-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/history$/);
  await expect(page.getByRole("link", { name: "Users" })).toHaveCount(0);
  await page.goto("/admin/users");
  // It says who may open it and how a role is granted.
  const forbidden = page.getByTestId("forbidden");
  await expect(forbidden).toContainText("Your role cannot open this page");
  await expect(forbidden).toContainText("it is open to admins (permission user.read)");
  await expect(forbidden).toContainText("hyperion user set-role <your email> <role>");
  const res = await page.request.get("/api/trpc/user.list");
  expect(res.status()).toBe(403);
  await context.close();
});

test("the worker's heartbeat shows in the header", async ({ page }) => {
  await page.goto("/history");
  await expect(page.getByTestId("worker-status")).toContainText("worker alive");
});

test("a request's tab names it; an unknown one says so with a way back", async ({ page }) => {
  await page.goto("/requests/new");
  await page.getByLabel("Title").fill("Name the tab");
  await page.getByLabel("Description").fill("The page title names the request.");
  await page.getByLabel(/^Files/).fill("docs/guide.md");
  await page.getByRole("button", { name: "File request" }).click();
  await expect(page).toHaveTitle(/^R\d+ Name the tab · Hyperion$/);

  await page.goto("/requests/999999");
  await expect(page.getByTestId("not-found")).toContainText("Nothing here");
  await expect(page).toHaveTitle(/not found · Hyperion$/i);
  await page.getByRole("link", { name: "Back to history" }).click();
  await expect(page).toHaveURL(/\/history$/);
});

test("a description's markdown is rendered, and its script and javascript: link are inert", async ({
  page,
}) => {
  await page.goto("/requests/new");
  await page.getByLabel("Title").fill("Markdown, safely");
  await page
    .getByLabel("Description")
    .fill(
      'Cap **discounts** in `applyDiscount`.\n\n<script>window.__pwned = 1</script>\n\n[click me](javascript:window.__pwned=2) <img src=x onerror="window.__pwned=3">',
    );
  await page.getByLabel(/^Files/).fill("docs/guide.md");
  await page.getByRole("button", { name: "File request" }).click();
  const description = page.getByTestId("request-description");
  await expect(description.locator("strong")).toHaveText("discounts");
  await expect(description.locator("code")).toHaveText("applyDiscount");
  await expect(description.locator("script, img")).toHaveCount(0);
  const link = description.locator("a", { hasText: "click me" });
  expect(await link.getAttribute("href")).not.toMatch(/^javascript:/i);
  await link.click();
  expect(await page.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined();
});
