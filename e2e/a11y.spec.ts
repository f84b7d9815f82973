import AxeBuilder from "@axe-core/playwright";
import { expect, type Page, test } from "@playwright/test";
import { ADMIN_STATE } from "../playwright.config";
import { tabTo } from "./helpers";
import {
  doneRequest,
  gate,
  openState,
  PAGES,
  releaseWaitingApproval,
  VIEWPORTS,
  type ViewportName,
} from "./support/pages";

// Every page and state in e2e/support/pages.ts, at a desktop and a phone viewport: no serious or
// critical WCAG 2.1 A/AA violation that axe can find, and nothing wider than the screen. The
// tests run in the order of the list (one worker), so the empty states come before any data.
test.beforeAll(() => gate.start());
test.afterAll(async () => {
  gate.stop();
  await releaseWaitingApproval();
});

const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

// Legacy mode: axe runs in the page itself. The default mode finishes each run in a new blank
// page, which was half of every check's time; Hyperion's pages have no frames, the one thing
// legacy mode cannot look into across origins.
async function violationsOf(page: Page) {
  const { violations } = await new AxeBuilder({ page })
    .withTags(TAGS)
    .setLegacyMode(true)
    .analyze();
  return violations;
}

function listed(violations: Awaited<ReturnType<typeof violationsOf>>) {
  return violations
    .map(
      (v) =>
        `${v.id} (${v.impact}): ${v.help}\n${v.nodes
          .map((n) => `    ${n.target.join(" ")} — ${n.failureSummary?.split("\n").join(" ")}`)
          .join("\n")}`,
    )
    .join("\n");
}

/** What is wider than the screen, if anything: the innermost elements past the right edge. */
function sidewaysScroll(page: Page) {
  return page.evaluate(() => {
    const wide = [...document.body.querySelectorAll("*")].filter(
      (el) => el.getBoundingClientRect().right + window.scrollX > window.innerWidth + 1,
    );
    const innermost = wide.filter((el) => !wide.some((o) => o !== el && el.contains(o)));
    return {
      scroll: document.documentElement.scrollWidth,
      inner: window.innerWidth,
      culprits: innermost
        .slice(0, 8)
        .map((el) => `${el.tagName.toLowerCase()}.${[...el.classList].join(".")}`),
    };
  });
}

async function check(page: Page, viewport: ViewportName) {
  const all = await violationsOf(page);
  // Every violation is noted in the report; only serious and critical ones fail.
  test.info().annotations.push({
    type: `axe at ${viewport}`,
    description: all.map((v) => `${v.id} (${v.impact}) ×${v.nodes.length}`).join(", ") || "none",
  });
  const violations = all.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect.soft(violations, `at ${viewport}:\n${listed(violations)}`).toEqual([]);
  const width = await sidewaysScroll(page);
  expect
    .soft(
      width.scroll,
      `at ${viewport} the page scrolls sideways; past the edge: ${width.culprits.join(", ")}`,
    )
    .toBeLessThanOrEqual(width.inner);
}

// One page load per state, looked at in both viewports: opened at the desktop size, then the
// same page (its dialog still open) resized to the phone's. A state's page is loaded, signed in
// and made ready once instead of twice, which was half of the tour's time; the layout at the
// phone's width comes from CSS media queries and resize listeners, which a resize exercises as a
// load at that size does.
const FIRST: ViewportName = "desktop";
const OTHERS = (Object.keys(VIEWPORTS) as ViewportName[]).filter((v) => v !== FIRST);
for (const state of PAGES) {
  test(`${state.name}: no serious violations, no sideways scroll, at ${Object.keys(VIEWPORTS).join(" and ")}`, async ({
    browser,
  }) => {
    test.setTimeout(120_000);
    const { context, page } = await openState(browser, state, FIRST);
    try {
      await check(page, FIRST);
      for (const viewport of OTHERS) {
        const size = VIEWPORTS[viewport];
        await page.setViewportSize(size);
        await page.waitForFunction((w) => window.innerWidth === w, size.width);
        // One frame, so that layout and any resize listener have run.
        await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(null))));
        await check(page, viewport);
      }
    } finally {
      await context.close();
    }
  });
}

// Last: it rolls back the merged change the states above look at.
test.describe("with the keyboard alone", () => {
  test.use({ storageState: ADMIN_STATE });

  test("an operator rolls back a merged change", async ({ page, browser }) => {
    test.setTimeout(120_000);
    const { id, entryId } = await doneRequest(browser);
    await page.goto(`/queue/${entryId}`);
    const rollBack = page.getByRole("button", { name: "Roll back…" });
    await tabTo(page, rollBack);
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog", { name: `Roll back Q${entryId}?` });
    await expect(dialog).toBeVisible();
    // The focus moves into the dialog; Escape closes it and gives the focus back.
    await expect(dialog.locator(":focus")).toHaveCount(1);
    await page.keyboard.press("Escape");
    await expect(dialog).toHaveCount(0);
    await expect(rollBack).toBeFocused();

    await page.keyboard.press("Space");
    await expect(dialog).toBeVisible();
    await tabTo(page, dialog.getByRole("button", { name: "Roll back", exact: true }), 10);
    await page.keyboard.press("Space");
    await expect(dialog).toHaveCount(0);
    // The revert is queued and the refreshed page no longer offers to roll it back. (Its
    // "Revert queued as Q…" notice lives inside the button's component, which the refresh
    // removes, so it may be gone before it can be read.)
    await expect(rollBack).toHaveCount(0);
    await page.goto(`/requests/${id}`);
    await expect(page.getByTestId("request-status")).toHaveText("Rolled back", { timeout: 60_000 });
  });
});
