import AxeBuilder from "@axe-core/playwright";
import { expect, type Page, test } from "@playwright/test";
import { fileWithCli, hyperion } from "./helpers";

// The workspace meta queue in the browser. `meta-web` and `meta-api` (e2e/prepare.ts) are
// copies of the demo that land without QA or approvals. A request of meta-web waits for one of
// meta-api; meta-api is paused from the meta queue (delivered twice, applied once) so that the
// wait can be seen, then resumed, and the request page shows the dependency satisfied.

const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

async function noAxeViolations(page: Page) {
  const { violations } = await new AxeBuilder({ page }).withTags(TAGS).analyze();
  const serious = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(serious.map((v) => `${v.id}: ${v.help}`)).toEqual([]);
}

/** meta.submit through the API with the page's session, as a script of the operator's would. */
async function submit(page: Page, item: Record<string, unknown>) {
  const res = await page.request.post("/api/trpc/meta.submit", { data: item });
  expect(res.status(), await res.text()).toBe(200);
  return (await res.json()).result.data as {
    repeated: boolean;
    item: { id: number; state: string; effect: string };
  };
}

test.describe("the workspace meta queue", () => {
  test("a cross-repository dependency waits on the request page, then is satisfied once the other lands", async ({
    page,
  }) => {
    test.setTimeout(240_000);
    const stamp = Date.now();
    const pause = {
      kind: "pause",
      repo: "meta-api",
      sourceEventId: `e2e-pause-${stamp}`,
      note: "hold it while the page is read",
    };
    const first = await submit(page, pause);
    expect(first).toMatchObject({ repeated: false, item: { state: "applied" } });
    const second = await submit(page, pause);
    expect(second).toMatchObject({ repeated: true, item: { id: first.item.id } });

    const api = await fileWithCli({
      title: `Count the cart's items in the API ${stamp}`,
      description: "Change src/cart/cart.js.",
      repo: "meta-api",
      files: ["src/cart/cart.js"],
    });
    const web = await fileWithCli({
      title: `Show the cart's item count ${stamp}`,
      description: "Change src/cart/cart.js.",
      repo: "meta-web",
      files: ["src/cart/cart.js"],
      dependsOn: [api],
    });

    await page.goto(`/requests/${web}`);
    const dep = page.getByTestId(`dependency-R${api}`);
    await expect(dep).toContainText("in meta-api (another repository)");
    await expect(dep).toHaveAttribute("data-satisfied", "false");
    await expect(dep.getByTestId("dependency-why")).toHaveText(
      `R${web} waits until R${api} in meta-api lands (all its changes merged): none of its tasks is dispatched before`,
    );
    // Once planned, its task says what it waits for (the page follows it live).
    await expect(page.getByText(`Waiting on request ${api} in meta-api to land`)).toBeVisible({
      timeout: 60_000,
    });
    await noAxeViolations(page);

    // The meta queue lists the pause once, applied, and says it is in force.
    await page.goto("/meta");
    const row = page.getByTestId(`meta-item-${pause.sourceEventId}`);
    await expect(row).toHaveCount(1);
    await expect(row.getByTestId("meta-item-state")).toContainText("Applied");
    await expect(row.getByTestId("meta-item-effect")).toContainText("meta-api paused");
    await expect(page.getByTestId("meta-paused-meta-api")).toContainText(
      "hold it while the page is read",
    );
    await noAxeViolations(page);

    // Resumed from the page's form: meta-api's request lands, then the one that waited for it.
    const form = page.getByTestId("meta-submit");
    await form.getByLabel("Kind").selectOption("resume");
    await form.getByLabel("Repository", { exact: true }).fill("meta-api");
    const resumeId = (await form.getByTestId("meta-submit-id").textContent()) ?? "";
    expect(resumeId).toMatch(/^web-/);
    await form.getByRole("button", { name: "Submit item" }).click();
    const resumed = page.getByTestId(`meta-item-${resumeId}`);
    await expect(resumed.getByTestId("meta-item-state")).toContainText("Applied");
    await expect(resumed.getByTestId("meta-item-effect")).toContainText(
      "meta-api resumed: its tasks are dispatched again",
    );
    await expect(page.getByTestId("meta-paused-meta-api")).toHaveCount(0);
    // The CLI lists the same queue.
    const list = await hyperion(["meta", "list", "--json"]);
    expect(list.exitCode, list.stderr).toBe(0);
    expect(
      JSON.parse(list.stdout).items.filter(
        (i: { sourceEventId: string }) => i.sourceEventId === pause.sourceEventId,
      ),
    ).toHaveLength(1);

    await page.goto(`/requests/${web}`);
    await expect(async () => {
      await page.reload();
      await expect(page.getByTestId(`dependency-R${api}`)).toHaveAttribute(
        "data-satisfied",
        "true",
        { timeout: 2_000 },
      );
    }).toPass({ timeout: 150_000 });
    await expect(dep.getByTestId("dependency-why")).toHaveText(
      `R${api} in meta-api has landed: satisfied`,
    );
    await expect(page.getByTestId("request-status")).toHaveText("Done", { timeout: 90_000 });
  });
});
