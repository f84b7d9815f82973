import { expect, type Page, test } from "@playwright/test";
import { fileWithCli, hyperion } from "./helpers";

// Manual QA through the page. `qa-web` and `qa-api` (e2e/prepare.ts) are copies of the demo
// whose policy keeps the QA gate: a feature waits in qa_required after its checks pass, and
// /qa lists it; the admin passes or fails it there.

async function fileFeature(repo: string, title: string) {
  const file = `src/cart/qa-${Date.now()}-${Math.floor(performance.now())}.js`;
  const id = await fileWithCli({
    title,
    description: `Add ${file}.`,
    repo,
    kind: "feature",
    files: [file],
  });
  return { id, file };
}

async function openQa(page: Page, id: number) {
  await page.goto(`/qa?request=R${id}`);
  // It appears once its checks have passed (the page polls; a reload is the same).
  await expect(async () => {
    await page.reload();
    await expect(page.getByTestId(`qa-item-R${id}`)).toBeVisible({ timeout: 2_000 });
  }).toPass({ timeout: 90_000 });
  await expect(page.getByTestId("qa-detail")).toContainText(`R${id}`);
}

test.describe("QA", () => {
  test("a feature waits for QA; passed on /qa, it lands", async ({ page }) => {
    test.setTimeout(180_000);
    const { id, file } = await fileFeature("qa-web", `QA pass ${Date.now()}`);
    await openQa(page, id);
    const detail = page.getByTestId("qa-detail");
    await expect(detail).toContainText(file);
    await expect(detail.getByTestId("qa-checkout")).toHaveText(`hyperion qa checkout R${id}`);
    // The CLI lists it too, in the QA queue.
    const list = await hyperion(["qa", "list", "--json"]);
    expect(list.exitCode, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).order.map((i: { requestId: number }) => i.requestId)).toContain(
      id,
    );

    await detail.getByTestId("qa-pass").click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("button", { name: "Pass QA" }).click();
    await expect(dialog).toBeHidden();
    await expect(page.getByTestId(`qa-item-R${id}`)).toBeHidden({ timeout: 30_000 });
    await page.goto(`/requests/${id}`);
    await expect(page.getByTestId("request-status")).toHaveText("Done", { timeout: 90_000 });
  });

  test("failed on /qa with notes, its change is rejected; empty notes are refused", async ({
    page,
  }) => {
    test.setTimeout(180_000);
    const { id } = await fileFeature("qa-api", `QA fail ${Date.now()}`);
    await openQa(page, id);
    const detail = page.getByTestId("qa-detail");

    // No notes: refused in the dialog, naming the field; nothing changes.
    await detail.getByTestId("qa-fail").click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("button", { name: "Fail QA" }).click();
    await expect(dialog.getByRole("alert")).toContainText("notes");
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await expect(page.getByTestId(`qa-item-R${id}`)).toBeVisible();

    await detail.getByTestId("qa-notes").fill("The count is off by one when the cart is empty.");
    await detail.getByTestId("qa-fail").click();
    await page.getByRole("dialog").getByRole("button", { name: "Fail QA" }).click();
    await expect(page.getByRole("dialog")).toBeHidden();
    await expect(page.getByTestId(`qa-item-R${id}`)).toBeHidden({ timeout: 30_000 });
    await page.goto(`/requests/${id}`);
    // The demo's built-in developer cannot act on notes: its task is closed with them.
    await expect(page.getByTestId("request-status")).toHaveText("Failed", { timeout: 60_000 });
    await expect(page.getByText("The count is off by one", { exact: false }).first()).toBeVisible();
  });
});
