import { type APIRequestContext, expect, type Page, test } from "@playwright/test";

// The history's search, filters, order and pages, all in the URL. Each test files its own
// requests under a tag of its own and searches for it, so other tests' requests do not count.

const tag = (name: string) => `${name}-${Date.now().toString(36)}`;

/** Files one request per title through the API (one call, oldest first). */
async function file(request: APIRequestContext, titles: string[]) {
  const res = await request.post("/api/trpc/request.create", {
    data: titles.map((title) => ({ title, description: "", repo: "demo" })),
  });
  expect(res.status(), await res.text()).toBe(200);
}

const rows = (page: Page) => page.getByTestId("history-row");

test("search applies as you type, lands in the URL, and Back undoes it", async ({ page }) => {
  const t = tag("search");
  await file(page.request, [`${t} apples`, `${t} pears`, `${t} 50% apples`]);
  await page.goto("/history");
  await page.getByLabel("Search titles").fill(`${t} APPLES`);
  await expect(page).toHaveURL(new RegExp(`[?&]q=${t}\\+APPLES`));
  await expect(rows(page)).toHaveCount(1);
  await expect(rows(page).first()).toContainText(`${t} apples`);
  await expect(rows(page).first()).toContainText(/R\d+/);

  // % is a character like any other.
  await page.getByLabel("Search titles").fill(`${t} 50%`);
  await expect(page).toHaveURL(new RegExp(`q=${t}\\+50%25`));
  await expect(rows(page)).toHaveCount(1);
  await expect(rows(page).first()).toContainText(`${t} 50% apples`);

  await page.getByLabel("Sort").selectOption("title");
  await expect(page).toHaveURL(/sort=title/);
  await page.goBack();
  await expect(page).not.toHaveURL(/sort=/);
  await page.goBack();
  await expect(page).toHaveURL(new RegExp(`q=${t}\\+APPLES$`));
  await expect(page.getByLabel("Search titles")).toHaveValue(`${t} APPLES`);
  await expect(rows(page)).toHaveCount(1);
});

test("the status filter reads from the URL and lists human labels", async ({ page }) => {
  const t = tag("status");
  await file(page.request, [`${t} one`, `${t} two`]);
  // Filed without files, the Engineer asks a question; the worker gets there on its own time.
  await expect(async () => {
    await page.goto(`/history?q=${t}&status=needs_clarification`);
    await expect(rows(page)).toHaveCount(2, { timeout: 500 });
  }).toPass();
  await expect(page.getByLabel("Status")).toHaveValue("needs_clarification");
  await expect(page.getByLabel("Status").locator("option:checked")).toHaveText("Question for you");
  await expect(rows(page).first().locator("[data-state]")).toHaveText("Question for you");

  await page.getByLabel("Status").selectOption("done");
  await expect(page).toHaveURL(/status=done/);
  await expect(page.getByTestId("history-no-match")).toContainText(
    `No requests match search '${t}', status 'Done'.`,
  );
  await page.getByRole("link", { name: "Clear filters" }).click();
  await expect(page).toHaveURL(/\/history$/);
});

test("pages forward and back over more than 50 requests", async ({ page }) => {
  const t = tag("paged");
  await file(
    page.request,
    Array.from({ length: 60 }, (_, i) => `${t} ${String(i).padStart(2, "0")}`),
  );
  await page.goto(`/history?q=${t}`);
  await expect(rows(page)).toHaveCount(50);
  await expect(rows(page).first()).toContainText(`${t} 59`);
  await expect(page.getByRole("link", { name: "Previous" })).toHaveCount(0);

  await page.getByRole("link", { name: "Next page" }).click();
  await expect(page).toHaveURL(/cursor=/);
  await expect(rows(page)).toHaveCount(10);
  await expect(rows(page).first()).toContainText(`${t} 09`);
  await expect(rows(page).last()).toContainText(`${t} 00`);
  await expect(page.getByRole("link", { name: "Next page" })).toHaveCount(0);

  await page.getByRole("link", { name: "Previous" }).click();
  await expect(rows(page)).toHaveCount(50);
  await expect(rows(page).first()).toContainText(`${t} 59`);
  await expect(rows(page).last()).toContainText(`${t} 10`);

  await page.goBack();
  await expect(rows(page)).toHaveCount(10);
  await page.getByRole("link", { name: "First page" }).click();
  await expect(page).toHaveURL(new RegExp(`/history\\?q=${t}$`));
  await expect(rows(page)).toHaveCount(50);

  // Oldest first pages the same rows the other way round.
  await page.goto(`/history?q=${t}&sort=old`);
  await expect(rows(page).first()).toContainText(`${t} 00`);
  await page.getByRole("link", { name: "Next page" }).click();
  await expect(rows(page)).toHaveCount(10);
  await expect(rows(page).last()).toContainText(`${t} 59`);
});

test("a new matching request appears at the top of a filtered first page", async ({ page }) => {
  const t = tag("live");
  await file(page.request, [`${t} first`]);
  await page.goto(`/history?q=${t}`);
  await expect(page.getByTestId("live-state")).toHaveText("● live");
  await expect(rows(page)).toHaveCount(1);
  await file(page.request, [`other ${Date.now()}`, `${t} second`]);
  await expect(rows(page).first()).toContainText(`${t} second`);
  await expect(rows(page)).toHaveCount(2);
});

test("a row that appears live shows the kind the Engineer inferred, without a reload", async ({
  page,
}) => {
  const t = tag("livekind");
  await page.goto(`/history?q=${t}`);
  await expect(page.getByTestId("live-state")).toHaveText("● live");
  const res = await page.request.post("/api/trpc/request.create", {
    data: [{ title: `${t} guide`, description: "", repo: "demo", files: ["docs/guide.md"] }],
  });
  expect(res.status(), await res.text()).toBe(200);
  // Filed without a kind, it is planned as docs: the live row follows, as a reload would show.
  await expect(rows(page).first()).toContainText("docs (inferred)");
  await page.reload();
  await expect(rows(page).first()).toContainText("docs (inferred)");
});

test("hostile and unknown URL values are shown back as text; nothing runs", async ({ page }) => {
  let dialogs = 0;
  page.on("dialog", (d) => {
    dialogs += 1;
    void d.dismiss();
  });
  const script = "<script>alert(1)</script>";
  await page.goto(
    `/history?status=${encodeURIComponent(script)}&repo=${encodeURIComponent(`'"%`)}`,
  );
  const noMatch = page.getByTestId("history-no-match");
  await expect(noMatch).toContainText(`No status called '${script}'.`);
  await expect(noMatch).toContainText(`No repository called ''"%'.`);
  await expect(page.getByRole("link", { name: "Clear filters" })).toHaveAttribute(
    "href",
    "/history",
  );
  // The selects show "All …" for a value they do not know; the next change drops it, as shown.
  await expect(page.getByLabel("Status")).toHaveValue("");
  await page.getByLabel("Kind").selectOption("docs");
  await expect(page).toHaveURL(/\/history\?kind=docs$/);

  await page.goto(`/history?q=${encodeURIComponent(`<img src=x onerror=alert(2)>${tag("x")}`)}`);
  await expect(page.getByTestId("history-no-match")).toContainText(
    "No requests match search '<img",
  );
  await page.goto(`/history?q=${"q".repeat(201)}&sort=random&cursor=not-a-cursor`);
  await expect(page.getByTestId("history-no-match")).toContainText("at most 200 characters");
  await expect(page.getByTestId("history-notice")).toContainText("No sort called 'random'");

  await page.goto("/history?cursor=not-a-cursor");
  await expect(page.getByTestId("history-notice")).toContainText("showing the first page");
  await expect(page.locator(`img[src="x"]`)).toHaveCount(0);
  expect(dialogs).toBe(0);

  // The API refuses what the page forgives, naming the field.
  for (const [input, field] of [
    [{ limit: 101 }, "limit"],
    [{ cursor: "not-a-cursor" }, "cursor"],
  ] as const) {
    const res = await page.request.get(
      `/api/trpc/request.list?input=${encodeURIComponent(JSON.stringify(input))}`,
    );
    expect(res.status()).toBe(400);
    const paths = (await res.json()).error.data.issues.map((i: { path: string }) => i.path);
    expect(paths).toEqual([field]);
  }
});

test.describe("on a phone", () => {
  test.use({ viewport: { width: 390, height: 844 } });

  test("rows are cards and nothing is wider than the screen", async ({ page }) => {
    const t = tag("phone");
    await file(page.request, [
      `${t} ${"a-very-long-unbroken-title-".repeat(6)}`,
      `${t} a short one`,
    ]);
    await page.goto(`/history?q=${t}`);
    await expect(rows(page)).toHaveCount(2);
    await expect(page.locator("thead")).toBeHidden();
    const card = rows(page).first();
    for (const text of [t, /R\d+/, "admin@hyperion.local", "demo"])
      await expect(card).toContainText(text);
    await expect(card.locator("[data-state]")).toBeVisible();
    const box = await card.boundingBox();
    expect(box?.width).toBeLessThanOrEqual(390);
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - window.innerWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    for (const label of ["Search titles", "Status", "Repository", "Kind", "Sort"]) {
      const field = await page.getByLabel(label).boundingBox();
      expect((field?.x ?? 0) + (field?.width ?? 0), label).toBeLessThanOrEqual(390);
    }
  });
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the filters are a plain GET form", async ({ page }) => {
    const t = tag("nojs");
    await file(page.request, [`${t} kept`, `${t} also kept`]);
    await page.goto("/history");
    await page.getByLabel("Search titles").fill(`${t} also`);
    await page.getByLabel("Search titles").press("Enter");
    await expect(page).toHaveURL(new RegExp(`q=${t}\\+also`));
    await expect(rows(page)).toHaveCount(1);
    await expect(rows(page).first()).toContainText(`${t} also kept`);
  });
});
