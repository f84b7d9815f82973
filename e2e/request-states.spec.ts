import { expect, test } from "@playwright/test";
import { hyperion } from "./helpers";

/** Files one request with the CLI and returns its id (the CLI's --json output). */
async function fileWithCli(request: Record<string, unknown>) {
  // Its requests name files to create.
  const res = await hyperion(
    ["request", "-", "--json", "--allow-new-files"],
    JSON.stringify(request),
  );
  expect(res.exitCode, res.stderr).toBe(0);
  const [created] = JSON.parse(res.stdout) as [{ id: number }];
  expect(created.id).toEqual(expect.any(Number));
  return created.id;
}

test("the request page follows a docs request to done without a reload", async ({ page }) => {
  test.setTimeout(60_000);
  const n = Date.now();
  const file = `docs/e2e-live-${n}.md`;
  const id = await fileWithCli({
    title: `Live page ${n}`,
    description: `Add ${file} with a short note.`,
    repo: "demo",
    files: [file],
  });

  const res = await page.goto(`/requests/${id}`);
  // What the server rendered, before any live update: shown in the report, since how far the
  // request got before the page opened depends on the worker's pace.
  const first = /data-testid="request-status"><span[^>]*>([^<]*)</.exec((await res?.text()) ?? "");
  test.info().annotations.push({ type: "status at first render", description: first?.[1] ?? "?" });
  await expect(page.getByTestId("request-title")).toContainText(`R${id} Live page ${n}`);
  await expect(page.getByTestId("request-live")).toHaveText("● live");
  // No page.reload() from here on: only the subscription can move the page along.
  await expect(page.getByTestId("request-status")).toHaveText("Done", { timeout: 40_000 });
  await expect(page.getByTestId("task-change").first()).toContainText("Merged");
  await expect(page.getByTestId("task-change").filter({ hasText: "Merged" })).toHaveCount(
    await page.getByTestId("task-row").count(),
  );
  // The trace and the summary follow too: each event brings the whole page, not only the detail.
  await expect(page.getByTestId("trace")).toContainText("Done · filed by");
  await expect(page.getByTestId("trace-change").first()).toContainText("Merged");
  await expect(page.getByTestId("request-summary")).toContainText(file);
  await expect(page.getByTestId("request-live")).toHaveText("● live");
});

test.describe("as a requester", () => {
  test.use({ storageState: { cookies: [], origins: [] } });

  test("a requester cancels their own waiting request", async ({ page }) => {
    const email = `req-cancel-${Date.now()}@example.test`;
    const add = await hyperion(["user", "add", email, "--role", "requester"]);
    expect(add.exitCode, add.stderr).toBe(0);

    await page.goto("/signin");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("e2e-user-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page).toHaveURL(/\/history$/);

    const title = `Make it better ${Date.now()}`;
    await page.goto("/requests/new");
    await page.getByLabel("Title").fill(title);
    await page.getByLabel("Description").fill("Improve things.");
    await page.getByRole("button", { name: "File request" }).click();
    await expect(page.getByTestId("request-title")).toContainText(title);
    // The Engineer cannot scope it, so it waits for an answer.
    await expect(page.getByTestId("request-status")).toHaveText("Question for you", {
      timeout: 10_000,
    });

    await page.getByTestId("cancel-request").click();
    const dialog = page.getByRole("dialog");
    await expect(dialog).toContainText("This cannot be undone.");
    // The dialog's way out does not say "Cancel" beside "Cancel the request".
    await expect(dialog.getByRole("button", { name: "Keep the request" })).toBeVisible();
    await dialog.getByRole("button", { name: "Cancel the request" }).click();
    await expect(dialog).toBeHidden();
    // A toast says so, in the notifications region a screen reader hears.
    const toast = page
      .getByRole("region", { name: /Notifications/ })
      .getByText(/^R\d+ cancelled\.$/);
    await expect(toast).toBeVisible();
    await expect(page.getByTestId("request-status")).toHaveText("Cancelled");
    await expect(page.getByTestId("cancel-request")).toHaveCount(0);
    await expect(page.getByTestId("answer-form")).toHaveCount(0);
    // Its trace says so too, without a reload (it used to stay "Question for you").
    await expect(page.getByTestId("trace")).toContainText("Cancelled · filed by");

    // And it stays cancelled after a reload (the server's record, not only the page's state).
    await page.reload();
    await expect(page.getByTestId("request-status")).toHaveText("Cancelled");
  });

  test("a requester edits a request the Engineer asked about, and it is planned", async ({
    page,
  }) => {
    test.setTimeout(60_000);
    const email = `req-edit-${Date.now()}@example.test`;
    const add = await hyperion(["user", "add", email, "--role", "requester"]);
    expect(add.exitCode, add.stderr).toBe(0);
    await page.goto("/signin");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("e2e-user-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page).toHaveURL(/\/history$/);

    await page.goto("/requests/new");
    await page.getByLabel("Title").fill(`Vague ${Date.now()}`);
    await page.getByLabel("Description").fill("Improve things.");
    await page.getByRole("button", { name: "File request" }).click();
    await expect(page.getByTestId("request-status")).toHaveText("Question for you", {
      timeout: 10_000,
    });

    await page.getByTestId("edit-request").click();
    const form = page.getByTestId("edit-form");
    // A path outside the repository is refused, naming the field; nothing changes.
    await form.getByLabel("Files (one per line)").fill("../secrets.md");
    await form.getByRole("button", { name: "Save and plan again" }).click();
    await expect(form.getByRole("alert")).toContainText(
      "“../secrets.md” must stay inside the repository",
    );
    await expect(page.getByTestId("request-status")).toHaveText("Question for you");

    const title = `Explain caps ${Date.now()}`;
    await form.getByLabel("Title").fill(title);
    await form.getByLabel("Description").fill("Add a short section on caps to the guide.");
    await form.getByLabel("Files (one per line)").fill(`docs/edited-${Date.now()}.md`);
    await form.getByRole("checkbox", { name: "docs" }).check();
    await form.getByRole("button", { name: "Save and plan again" }).click();
    await expect(page.getByTestId("edit-form")).toHaveCount(0);
    await expect(page.getByTestId("request-status")).toHaveText(/^(Planned|In progress|Done)$/, {
      timeout: 10_000,
    });
    await page.reload();
    await expect(page.getByTestId("request-title")).toContainText(title);
    await expect(page.getByTestId("task-row").first()).toBeVisible();
  });
});

test("a question that comes back needs attention, and a reviewer re-scopes it", async ({
  page,
}) => {
  test.setTimeout(60_000);
  const title = `Document the cart ${Date.now()}`;
  const id = await fileWithCli({
    title,
    description: "Explain how src/cart/cart.js merges lines.",
    repo: "demo",
    kind: "docs",
  });

  // Answering with the kind it already has brings the same question back.
  const answer = await hyperion(
    ["answer", String(id), "--file", "-"],
    JSON.stringify({ kind: "docs" }),
  );
  expect(answer.exitCode, answer.stderr).toBe(0);
  expect(answer.stdout).toContain(`request ${id}\tneeds_attention`);

  await page.goto(`/requests/${id}`);
  await expect(page.getByTestId("request-title")).toContainText(title);
  await expect(page.getByTestId("request-status")).toHaveText("Needs attention");
  await expect(page.getByTestId("needs-attention")).toContainText(
    "This question came back after an answer.",
  );
  await expect(page.getByTestId("needs-attention")).toContainText("Re-scope the request below");
  // The answer is shown as words, under the question it answered.
  const answered = page.getByTestId("answer");
  await expect(answered).toContainText("Engineer: The kind is docs but it names code files");
  await expect(answered).toContainText("kind docs");

  const form = page.getByTestId("answer-form");
  await form.getByLabel("Kind").selectOption("feature");
  await form.getByRole("button", { name: "Answer and plan again" }).click();
  await expect(page.getByTestId("request-status")).toHaveText(/^(Planned|In progress|Done)$/, {
    timeout: 10_000,
  });
  await expect(page.getByTestId("needs-attention")).toHaveCount(0);
  await expect(page.getByTestId("task-row").first()).toBeVisible();
});
