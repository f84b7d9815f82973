import AxeBuilder from "@axe-core/playwright";
import { expect, type Page, test } from "@playwright/test";
import { ADMIN_STATE } from "../playwright.config";
import { hyperion, signInViaApi } from "./helpers";
import { PASSWORD, requester, VIEWPORTS, type ViewportName } from "./support/pages";

// The metrics page draws its charts from stored history: this spec lands changes in the
// `metered` repository (e2e/prepare.ts), which no other spec touches, so its figures are exact.

const author = { name: "E2E Metrics", email: "metrics@example.test" };
const URL = "/metrics?range=hour&repo=metered";

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

async function submit(file: string, line: string, summary: string, checks?: string[]) {
  const res = await hyperion(
    ["submit", "-"],
    JSON.stringify({
      repo: "metered",
      patch: newFilePatch(file, line),
      summary,
      author,
      ...(checks ? { checks } : {}),
    }),
  );
  expect(res.exitCode, res.stderr).toBe(0);
}

const total = (page: Page, term: string) => page.getByTestId(`total-${term}`);

test.describe.configure({ mode: "serial" });

test.beforeAll(async ({ browser }) => {
  test.setTimeout(120_000);
  const stamp = Date.now();
  // Two land (the first after the demo's `test` check); the third adds a file the first made:
  // it cannot apply, and ends quarantined after its two attempts.
  await submit(`docs/metrics-${stamp}.md`, "one", "Metrics: first", ["test"]);
  await submit(`docs/metrics-${stamp}-b.md`, "two", "Metrics: second");
  await submit(`docs/metrics-${stamp}.md`, "again", "Metrics: collide");
  const context = await browser.newContext({ storageState: ADMIN_STATE });
  const page = await context.newPage();
  // The history is written as the queue works: read the page again until all three finished.
  await expect(async () => {
    await page.goto(URL);
    await expect(total(page, "Landed")).toHaveText("2", { timeout: 1_000 });
    await expect(total(page, "Failure rate")).toHaveText("33.3%", { timeout: 1_000 });
  }).toPass({ timeout: 90_000 });
  await context.close();
});

for (const viewport of Object.keys(VIEWPORTS) as ViewportName[]) {
  test(`the metrics page charts the history at ${viewport} size, axe-clean`, async ({ page }) => {
    await page.setViewportSize(VIEWPORTS[viewport]);
    await page.goto(URL);
    await expect(page.getByRole("heading", { level: 1, name: "Metrics" })).toBeVisible();
    await expect(page.getByRole("link", { name: "Last hour" })).toHaveAttribute(
      "aria-current",
      "page",
    );
    await expect(page.getByLabel("Repository")).toHaveValue("metered");
    await expect(page.getByTestId("metrics-scope")).toContainText("repository metered");
    await expect(total(page, "Landed")).toHaveText("2");
    await expect(total(page, "Success rate")).toHaveText("66.7%");
    await expect(total(page, "Conflict rate")).toHaveText("33.3%");
    await expect(total(page, "Failure rate")).toHaveText("33.3%");

    // Every chart is drawn on its canvas (some pixel painted), named by its numbers.
    for (const id of [
      "throughput",
      "queue-time",
      "rates",
      "checks",
      "agents",
      "cost",
      "approvals",
    ]) {
      const canvas = page.getByTestId(`chart-${id}`).locator("canvas");
      await expect(canvas).toHaveAttribute("role", "img");
      await expect(canvas).toHaveAttribute("aria-label", /.+: .+/);
      await expect
        .poll(() =>
          canvas.evaluate((c: HTMLCanvasElement) => {
            const ctx = c.getContext("2d");
            if (!ctx || c.width === 0 || c.height === 0) return false;
            const px = ctx.getImageData(0, 0, c.width, c.height).data;
            for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) return true;
            return false;
          }),
        )
        .toBe(true);
    }
    await expect(page.getByTestId("chart-throughput").locator("canvas")).toHaveAttribute(
      "aria-label",
      "Throughput: 2 changes landed, 3 finished.",
    );

    // The tables say the same numbers.
    const open = async (id: string) => {
      await page.getByTestId(`chart-${id}`).getByText("Show the numbers as a table").click();
    };
    await open("throughput");
    const throughput = page.getByTestId("table-throughput");
    await expect(throughput).toBeVisible();
    const landings = await throughput
      .locator("tbody tr")
      .evaluateAll((rows) =>
        rows.reduce((n, r) => n + Number(r.querySelectorAll("td")[0]?.textContent ?? 0), 0),
      );
    expect(landings).toBe(2);
    await open("checks");
    await expect(page.getByTestId("table-checks").locator("tbody tr")).toHaveCount(1);
    await expect(page.getByTestId("table-checks").locator("tbody tr")).toContainText("test");
    await open("rates");
    await expect(page.getByTestId("table-rates")).toBeVisible();

    const { violations } = await new AxeBuilder({ page })
      .withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"])
      .analyze();
    expect(violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(" ")}`)).toEqual([]);
    // Nothing wider than the screen.
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
  });
}

test("the range and repository are in the address; a bad one is named", async ({ page }) => {
  await page.goto("/metrics");
  await expect(page.getByRole("link", { name: "Last day" })).toHaveAttribute(
    "aria-current",
    "page",
  );
  await page.getByRole("link", { name: "Last week" }).click();
  await expect(page).toHaveURL(/range=week/);
  await page.getByLabel("Repository").selectOption("metered");
  await page.getByRole("button", { name: "Show" }).click();
  await expect(page).toHaveURL(/range=week&repo=metered/);
  await expect(total(page, "Landed")).toHaveText("2");

  await page.goto("/metrics?range=month&repo=nowhere");
  const error = page.getByTestId("metrics-filter-error");
  await expect(error).toContainText('range: unknown range "month": use hour, day or week');
  await expect(error).toContainText('repo: unknown repository "nowhere"');

  // The queue links here.
  await page.goto("/queue");
  await page.getByRole("link", { name: /^Metrics: charts/ }).click();
  await expect(page).toHaveURL(/\/metrics$/);
});

test("the procedure refuses an unknown range with a 400 naming it", async ({ page }) => {
  const input = encodeURIComponent(JSON.stringify({ range: "fortnight" }));
  const res = await page.request.get(`/api/trpc/metrics.history?input=${input}`);
  expect(res.status()).toBe(400);
  expect(await res.text()).toContain("range: unknown range");
});

test("a requester may not open the metrics page", async ({ browser }) => {
  const context = await browser.newContext({ storageState: { cookies: [], origins: [] } });
  await signInViaApi(context.request, await requester(browser), PASSWORD);
  const page = await context.newPage();
  await page.goto("/metrics");
  await expect(page.getByTestId("forbidden")).toBeVisible();
  const res = await context.request.get("/api/trpc/metrics.history");
  expect(res.status()).toBe(403);
  await context.close();
});
