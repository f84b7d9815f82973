import path from "node:path";
import { expect, type Page, test } from "@playwright/test";
import { fileWithCli, hyperion, signInViaApi } from "./helpers";
import { gate, openState, PAGES, VIEWPORTS, type ViewportName } from "./support/pages";

// The pictures in docs/screenshots/ (listed in its README.md) and docs/review-workflow.md, taken
// from the real pages: `npm run screenshots` (bin/screenshots.mjs) runs this file on purpose,
// each part on a server of its own so that the one's data is not in the other's pictures; the
// suite skips it otherwise, so a test run never rewrites the committed pictures.
const SHOTS = path.resolve("docs/screenshots");
const shot = (name: string) => path.join(SHOTS, name);

test.skip(!process.env.SCREENSHOTS, "SCREENSHOTS=1 takes the pictures");

/** The header's worker status and a live page's connection settled, so pictures match run to run. */
async function settled(page: Page) {
  const worker = page.getByTestId("worker-status");
  if ((await worker.count()) > 0) {
    await expect(worker).toHaveAttribute("data-state", "fresh", { timeout: 15_000 });
  }
  const live = page.getByTestId("request-live");
  if ((await live.count()) > 0) await expect(live).toHaveText("● live", { timeout: 15_000 });
}

// Every page and state of e2e/support/pages.ts at both sizes, in the list's order (the empty
// states before any data).
test.describe("page tour", () => {
  test.beforeAll(() => gate.start());
  test.afterAll(() => gate.stop());
  for (const state of PAGES) {
    for (const viewport of Object.keys(VIEWPORTS) as ViewportName[]) {
      test(`${state.name} at ${viewport}`, async ({ browser }) => {
        test.setTimeout(120_000);
        const { context, page } = await openState(browser, state, viewport);
        try {
          await settled(page);
          // A dialog's overlay covers the window, not the page: picture the window then.
          const dialog = page.getByRole("dialog").or(page.getByRole("alertdialog"));
          await page.screenshot({
            path: shot(`${state.name}-${viewport}.png`),
            fullPage: (await dialog.count()) === 0,
          });
        } finally {
          await context.close();
        }
      });
    }
  }
});

test.describe("review workflow", () => {
  test.use({ storageState: { cookies: [], origins: [] }, viewport: { width: 1280, height: 860 } });

  async function addUser(role: "requester" | "reviewer", name: string) {
    // Plain names for the pictures: the data directory is new on every run.
    const email = `${name}@example.test`;
    const res = await hyperion(["user", "add", email, "--role", role]);
    expect(res.exitCode, res.stderr).toBe(0);
    return email;
  }

  function fileReviewed(as: string, title: string, files: string[]) {
    const description = `Change ${files.join(", ")}.`;
    return fileWithCli({ title, description, repo: "reviewed", files }, as);
  }

  test("the review workflow's screenshots", async ({ page }) => {
    test.setTimeout(180_000);
    const requester = await addUser("requester", "ana");
    const reviewer = await addUser("reviewer", "rui");
    const high = await fileReviewed(requester, "Cap the loyalty discount at 20%", [
      "src/pricing/pricing.js",
    ]);
    await fileReviewed(requester, "Round cart totals to whole cents", ["src/cart/cart.js"]);
    await signInViaApi(page.request, reviewer, "e2e-user-password");

    await page.goto("/history");
    await expect(page.getByTestId("approval-count")).toHaveText("2 waiting", { timeout: 90_000 });
    await expect(page.getByTestId("worker-status")).toHaveAttribute("data-state", "fresh");
    await page.locator("header").screenshot({ path: shot("header-count.png") });

    await page.goto("/queue");
    await expect(page.getByTestId("awaiting-approval")).toHaveCount(2);
    await page.getByTestId("pending-table").screenshot({ path: shot("queue-waiting.png") });

    await page.goto("/approvals");
    const entries = page.getByTestId("approval-entry");
    await expect(entries).toHaveCount(2);
    await expect(page.getByTestId("worker-status")).toHaveAttribute("data-state", "fresh");
    await page.screenshot({ path: shot("approvals-list.png"), fullPage: true });

    const pricing = entries.filter({ hasText: "Cap the loyalty discount" });
    await pricing.getByRole("button", { name: "Open the full diff" }).click();
    const viewer = pricing.getByTestId("diff-viewer");
    await expect(viewer.locator("table.diff-unified")).toBeVisible();
    await pricing.screenshot({ path: shot("diff-unified.png") });
    await viewer.getByRole("button", { name: "Side by side" }).click();
    await expect(viewer.locator("table.diff-split")).toBeVisible();
    await pricing.screenshot({ path: shot("diff-split.png") });

    const cart = entries.filter({ hasText: "Round cart totals" });
    await cart.getByRole("button", { name: "Reject…" }).click();
    const reject = page.getByRole("dialog");
    await reject
      .getByLabel(/Reason/)
      .fill("Totals must round half up, not down: see the pricing guide.");
    await page.screenshot({ path: shot("reject-dialog.png") });
    await reject.getByRole("button", { name: "Cancel" }).click();

    await pricing.getByRole("button", { name: "Approve…" }).click();
    const approve = page.getByRole("dialog");
    await approve
      .getByLabel(/Comment/)
      .fill("Read the whole diff: the cap applies after other discounts and totals stay in cents.");
    await page.screenshot({ path: shot("approve-dialog.png") });
    await approve.getByRole("button", { name: /^Approve Q\d+$/ }).click();
    await expect(pricing).toHaveCount(0);
    await page.getByTestId("approval-notice").scrollIntoViewIfNeeded();
    await page.screenshot({ path: shot("approved.png") });

    await page.goto(`/requests/${high}`);
    await expect(page.getByTestId("request-status")).toHaveText("Done", { timeout: 60_000 });
    await page.getByTestId("request-reviews").screenshot({ path: shot("request-reviews.png") });
  });
});
