import { expect, type Locator, type Page, test } from "@playwright/test";
import { hyperion, tabTo as tabWithin } from "./helpers";

/** Moves focus with Tab alone until `target` has it: a keyboard user's way there. */
const tabTo = (page: Page, target: Locator) => tabWithin(page, target, 40);

/** The field's aria-describedby names visible text that says `message`. */
async function expectDescribedBy(page: Page, field: Locator, message: string) {
  await expect(field).toHaveAttribute("aria-invalid", "true");
  const ids = (await field.getAttribute("aria-describedby"))?.split(" ") ?? [];
  expect(ids.length).toBeGreaterThan(0);
  await expect(page.locator(`[id="${ids[0]}"]`)).toBeVisible();
  await expect(page.locator(`[id="${ids[0]}"]`)).toHaveText(message);
  await expect(field).toHaveAccessibleDescription(
    new RegExp(message.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")),
  );
}

/** A request the Engineer cannot scope, so it waits for clarification; its id. */
async function vagueRequest(title: string) {
  const res = await hyperion(
    ["request", "-", "--json"],
    JSON.stringify({ title, description: "Improve things.", repo: "demo" }),
  );
  expect(res.exitCode, res.stderr).toBe(0);
  const [created] = JSON.parse(res.stdout) as [{ id: number }];
  return created.id;
}

test("one submit shows every problem, each on its field, and focus goes to the first", async ({
  page,
}) => {
  await page.goto("/requests/new");
  const form = page.getByTestId("request-form");
  const title = form.getByLabel("Title");
  const description = form.getByLabel("Description");
  const files = form.getByLabel(/^Files/);
  await title.fill("   ");
  await description.fill("x".repeat(20_001));
  await files.fill("docs/guide.md\n../outside.md");
  await form.getByRole("button", { name: "File request" }).click();

  const summary = page.getByTestId("error-summary");
  await expect(summary).toHaveAttribute("role", "alert");
  await expect(summary.getByRole("listitem")).toHaveText([
    "Give the request a title",
    "Keep the description within 20,000 characters (it has 20,001)",
    "“../outside.md” must stay inside the repository",
  ]);
  await expectDescribedBy(page, title, "Give the request a title");
  await expectDescribedBy(
    page,
    description,
    "Keep the description within 20,000 characters (it has 20,001)",
  );
  await expectDescribedBy(page, files, "“../outside.md” must stay inside the repository");
  await expect(title).toBeFocused();
  // No schema paths anywhere on the page.
  await expect(form).not.toContainText("files[1]");

  // A summary entry takes the reader to its field.
  await summary.getByRole("link", { name: /outside\.md/ }).click();
  await expect(files).toBeFocused();

  // Fixed fields lose their error on the next submit.
  await title.fill("Fixed title");
  await description.fill("Short.");
  await files.fill("../still-outside.md");
  await form.getByRole("button", { name: "File request" }).click();
  await expect(summary.getByRole("listitem")).toHaveText([
    "“../still-outside.md” must stay inside the repository",
  ]);
  await expect(title).not.toHaveAttribute("aria-invalid");
  await expect(files).toBeFocused();
});

test("a path main does not have is asked about before filing: going back files nothing, confirming files it", async ({
  page,
}) => {
  const n = Date.now();
  const title = `Returns policy ${n}`;
  const typo = `docs/returns-${n}.md`;
  await page.goto("/requests/new");
  const form = page.getByTestId("request-form");
  await form.getByLabel("Title").fill(title);
  await form.getByLabel("Description").fill("Document the returns policy.");
  const files = form.getByLabel(/^Files/);
  await files.fill(`docs/guide.md\n${typo}`);
  await form.getByRole("button", { name: "File request" }).click();

  const dialog = page.getByRole("dialog", { name: `${typo} does not exist on main: create it?` });
  await expect(dialog).toBeVisible();
  await dialog.getByRole("button", { name: "Go back and fix the path" }).click();
  await expect(dialog).toBeHidden();
  await expect(page).toHaveURL(/\/requests\/new$/);
  await expectDescribedBy(
    page,
    files,
    `“${typo}” does not exist on main: check the path, or file again and choose to create it`,
  );
  await expect(files).toBeFocused();
  // Nothing was filed.
  const listed = await page.request.get(
    `/api/trpc/request.list?input=${encodeURIComponent(JSON.stringify({ q: title }))}`,
  );
  expect((await listed.json()).result.data.rows).toEqual([]);

  // Two new paths are listed in one question; confirming files the request with them.
  await files.fill(`${typo}\ndocs/refunds-${n}.md`);
  await form.getByRole("button", { name: "File request" }).click();
  const both = page.getByRole("dialog", { name: "2 files do not exist on main: create them?" });
  await expect(both.getByTestId("new-files").getByRole("listitem")).toHaveText([
    typo,
    `docs/refunds-${n}.md`,
  ]);
  await both.getByRole("button", { name: "Create them and file" }).click();
  await expect(page).toHaveURL(/\/requests\/\d+\?filed=1$/);
  await expect(page.getByTestId("request-title")).toContainText(title);
});

/** The options a picker's list shows now. */
const options = (scope: Page | Locator, name: RegExp) =>
  scope.getByRole("listbox", { name }).getByRole("option");

test("the area picker filters as you type, picks with the keyboard, and follows the repository", async ({
  page,
}) => {
  await page.goto("/requests/new");
  const areas = page.getByRole("combobox", { name: /^Areas/ });
  await areas.focus();
  await page.keyboard.type("doc");
  await expect(options(page, /^Areas/)).toHaveText(["docs"]);
  await page.keyboard.press("Enter");
  const chips = page.getByTestId("areas-chip");
  await expect(chips).toHaveText(["docs×"]);

  await page.keyboard.type("c");
  // Every area with a "c" but docs, which is picked already.
  await expect(options(page, /^Areas/).filter({ hasText: /^docs$/ })).toHaveCount(0);
  await expect(options(page, /^Areas/).filter({ hasText: /^cart$/ })).toBeVisible();
  await page.keyboard.type("i");
  await expect(options(page, /^Areas/)).toHaveText(["pricing", "ci"]);
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("Enter");
  await expect(chips).toHaveText(["docs×", "ci×"]);
  await expect(page.locator('input[type="hidden"][name="areas"]')).toHaveCount(2);

  // Backspace in the empty input removes the last chip.
  await page.keyboard.press("Backspace");
  await expect(chips).toHaveText(["docs×"]);

  // Another repository offers its own areas; what it does not have is dropped.
  await page.getByLabel("Repository").selectOption("gated");
  await expect(chips).toHaveText(["docs×"]);
  await areas.focus();
  await page.keyboard.type("s");
  await expect(options(page, /^Areas/)).toHaveText(["notes", "slow"]);
  await page.keyboard.press("Escape");
  await page.getByLabel("Repository").selectOption("demo");
  await page.getByRole("button", { name: "Remove area docs" }).click();
  await expect(chips).toHaveCount(0);
});

test("a request is filed with the keyboard alone, its area and dependency picked from lists", async ({
  page,
}) => {
  const n = Date.now();
  const earlier = await vagueRequest(`Earlier ${n}`);
  await page.goto("/requests/new");
  const form = page.getByTestId("request-form");

  await tabTo(page, form.getByLabel("Title"));
  await page.keyboard.type(`Keyboard filed ${n}`);
  await page.keyboard.press("Tab");
  await page.keyboard.type("Add a note on keyboard use to the guide.");
  await tabTo(page, page.getByRole("combobox", { name: /^Areas/ }));
  await page.keyboard.type("docs");
  await page.keyboard.press("Enter");
  await tabTo(page, form.getByLabel(/^Files/));
  await page.keyboard.type(`docs/keyboard-${n}.md`);
  await tabTo(page, page.getByRole("combobox", { name: /^Depends on/ }));
  await page.keyboard.type(`Earlier ${n}`);
  await expect(options(page, /^Depends on/)).toHaveText([`R${earlier} Earlier ${n}`]);
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("dependsOn-chip")).toHaveText([`R${earlier} Earlier ${n}×`]);
  await tabTo(page, form.getByRole("button", { name: "File request" }));
  await page.keyboard.press("Enter");
  // The file is new: the question before filing is answered with the keyboard too.
  const ask = page.getByRole("dialog", {
    name: `docs/keyboard-${n}.md does not exist on main: create it?`,
  });
  await tabTo(page, ask.getByRole("button", { name: "Create it and file" }));
  await page.keyboard.press("Enter");

  await expect(page).toHaveURL(/\/requests\/\d+\?filed=1$/);
  await expect(page.getByTestId("request-title")).toContainText(`Keyboard filed ${n}`);
  // What was recorded, read back through "edit and file again", which starts from it.
  const id = Number(/\/requests\/(\d+)/.exec(page.url())?.[1]);
  await page.goto(`/requests/new?from=${id}`);
  await expect(page.getByTestId("areas-chip")).toHaveText(["docs×"]);
  await expect(page.getByTestId("dependsOn-chip")).toHaveText([`R${earlier} Earlier ${n}×`]);
  await expect(page.getByLabel(/^Files/)).toHaveValue(`docs/keyboard-${n}.md`);
});

test("a clarification question is answered with the keyboard alone", async ({ page }) => {
  test.setTimeout(60_000);
  const n = Date.now();
  const id = await vagueRequest(`Answer by keyboard ${n}`);
  await page.goto(`/requests/${id}`);
  await expect(page.getByTestId("request-status")).toHaveText("Question for you", {
    timeout: 10_000,
  });
  const form = page.getByTestId("answer-form");
  const files = form.getByLabel(/^Files/);

  // A path outside the repository first: the error is on the field and focus comes back to it.
  await tabTo(page, files);
  await page.keyboard.type("../up.md");
  await tabTo(page, form.getByRole("button", { name: "Answer and plan again" }));
  await page.keyboard.press("Enter");
  await expect(files).toBeFocused();
  await expectDescribedBy(page, files, "“../up.md” must stay inside the repository");
  await expect(page.getByTestId("request-status")).toHaveText("Question for you");

  await page.keyboard.press("ControlOrMeta+a");
  await page.keyboard.type(`docs/answered-${n}.md`);
  await page.keyboard.press("Tab");
  await expect(form.getByRole("combobox", { name: /^Areas/ })).toBeFocused();
  await page.keyboard.type("doc");
  await page.keyboard.press("Enter");
  await expect(form.getByTestId("areas-chip")).toHaveText(["docs×"]);
  await tabTo(page, form.getByRole("button", { name: "Answer and plan again" }));
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("request-status")).toHaveText(/^(Planned|In progress|Done)$/, {
    timeout: 10_000,
  });
  await expect(page.getByTestId("task-table")).toContainText(`docs/answered-${n}.md`);
});

test("editing a request into an invalid one names the fields and changes nothing", async ({
  page,
}) => {
  const n = Date.now();
  const title = `Edit me ${n}`;
  const id = await vagueRequest(title);
  await page.goto(`/requests/${id}`);
  await expect(page.getByTestId("request-status")).toHaveText("Question for you", {
    timeout: 10_000,
  });
  await page.getByTestId("edit-request").click();
  const form = page.getByTestId("edit-form");
  await form.getByLabel("Title").fill("");
  await form.getByLabel("Files (one per line)").fill("/etc/passwd");
  await form.getByRole("button", { name: "Save and plan again" }).click();

  await expect(form.getByRole("alert").getByRole("listitem")).toHaveText([
    "Give the request a title",
    "“/etc/passwd” must be relative to the repository root (no leading / or drive letter)",
  ]);
  await expectDescribedBy(page, form.getByLabel("Title"), "Give the request a title");
  await expectDescribedBy(
    page,
    form.getByLabel("Files (one per line)"),
    "“/etc/passwd” must be relative to the repository root (no leading / or drive letter)",
  );
  await expect(form.getByLabel("Title")).toBeFocused();

  // The server's record is as filed.
  await page.reload();
  await expect(page.getByTestId("request-title")).toHaveText(`R${id} ${title}`);
  await expect(page.getByTestId("request-status")).toHaveText("Question for you");
  await expect(page.getByTestId("request-description")).toContainText("Improve things.");
});

test("the request form fits a 390 px wide phone, errors and all", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto("/requests/new");
  const form = page.getByTestId("request-form");
  await form.getByLabel(/^Files/).fill(`docs/${"long-folder-name/".repeat(8)}../x.md`);
  await form.getByRole("button", { name: "File request" }).click();
  await expect(page.getByTestId("error-summary")).toBeVisible();
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  expect(overflow).toBeLessThanOrEqual(0);
});

test("acceptance is prose; the checks that run are picked from the repository's policy", async ({
  page,
}) => {
  await page.goto("/requests/new");
  const form = page.getByTestId("request-form");
  await expect(form.getByLabel(/^Acceptance criteria/)).toHaveAccessibleDescription(
    /Nothing written here runs/,
  );
  const boxes = form.getByRole("group", { name: /Checks to run/ });
  // demo's policy names one check, "test" (npm test); gated's names "gate".
  await expect(boxes.getByRole("checkbox")).toHaveCount(1);
  await expect(boxes).toContainText("npm test");
  await boxes.getByRole("checkbox", { name: /test/ }).check();
  await form.getByLabel("Repository").selectOption("gated");
  await expect(boxes.getByRole("checkbox", { name: /gate/ })).not.toBeChecked();
  await form.getByLabel("Repository").selectOption("demo");
  const test = boxes.getByRole("checkbox", { name: /test/ });
  await expect(test).not.toBeChecked();
  await test.check();

  const title = `Tidy the guide ${Date.now()}`;
  await form.getByLabel("Title").fill(title);
  await form.getByLabel(/^Files/).fill("docs/guide.md");
  await form.getByLabel(/^Acceptance criteria/).fill("The guide reads well");
  await form.getByRole("button", { name: "File request" }).click();
  await expect(page.getByTestId("request-title")).toContainText(title);
  await expect(page.getByTestId("spec-checks")).toHaveText("test");

  // Through the API, a name the policy does not define is refused on its field.
  const res = await page.request.post("/api/trpc/request.create", {
    data: { title: "x", description: "", repo: "demo", checks: ["npm run lint"] },
  });
  expect(res.status()).toBe(400);
  const issues = (await res.json()).error.data.issues;
  expect(issues).toEqual([
    {
      path: "checks[0]",
      message: "'npm run lint' is not a check of repository 'demo'; its checks: test",
    },
  ]);
});
