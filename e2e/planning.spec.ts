import { expect, test } from "@playwright/test";

test("a request filed in the browser is planned into tasks that pass dispatch and land", async ({
  page,
}) => {
  test.setTimeout(60_000);
  await page.goto("/requests/new");
  await page.getByLabel("Title").fill("Note the empty-cart case");
  await page.getByLabel("Description").fill("Mention empty carts in the guide and the cart tests.");
  await page.getByLabel(/^Files/).fill("docs/guide.md\ntests/cart.test.js");
  await page.getByRole("button", { name: "File request" }).click();
  await expect(page.getByTestId("request-title")).toContainText("Note the empty-cart case");

  await expect(page.getByTestId("task-graph")).toBeVisible({ timeout: 10_000 });
  await expect(page.getByTestId("task-row")).toHaveCount(2);
  await expect(page.getByTestId("task-table")).toContainText("demo:file:docs/guide.md");
  await expect(page.getByTestId("task-change").filter({ hasText: "Merged" })).toHaveCount(2, {
    timeout: 40_000,
  });
  await expect(page.getByTestId("request-status")).toContainText("Done", { timeout: 10_000 });
  await expect(page.getByTestId("graph-node").first()).toHaveAttribute("data-state", "done");
});

test("a request that cannot be scoped asks, and an answer in the browser plans it", async ({
  page,
}) => {
  await page.goto("/requests/new");
  await page.getByLabel("Title").fill("Make it nicer");
  await page.getByRole("button", { name: "File request" }).click();
  await expect(page.getByTestId("questions")).toContainText("No file or area matches", {
    timeout: 10_000,
  });
  await page
    .getByTestId("answer-form")
    .getByLabel(/^Files/)
    .fill("docs/faq.md");
  await page.getByRole("button", { name: "Answer and plan again" }).click();
  await expect(page.getByTestId("task-row")).toHaveCount(1, { timeout: 10_000 });
  await expect(page.getByTestId("task-table")).toContainText("docs/faq.md");
  // The trace's spec follows the answer without a reload (it used to read "Spec: ?, risk ?").
  await expect(page.getByTestId("trace")).toContainText(/Spec: \w+, risk (low|medium|high)/);
});
