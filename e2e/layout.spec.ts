import { expect, test } from "@playwright/test";

// The header on a phone: its links fold into a "Menu" disclosure, every one still reachable.
test.describe("on a phone", () => {
  test.use({ viewport: { width: 390, height: 844 } });

  test("the header's links fold into a menu that opens, navigates and closes", async ({ page }) => {
    await page.goto("/requests/new");
    const menu = page.getByRole("button", { name: "Menu" });
    await expect(menu).toBeVisible();
    await expect(menu).toHaveAttribute("aria-expanded", "false");
    const nav = page.getByRole("navigation", { name: "Main" });
    await expect(nav.getByRole("link", { name: "Queue" })).toBeHidden();

    await menu.click();
    await expect(menu).toHaveAttribute("aria-expanded", "true");
    for (const name of ["History", "New request", "Queue", "Runs", "Users"]) {
      await expect(nav.getByRole("link", { name, exact: true })).toBeVisible();
    }
    await expect(nav.getByRole("button", { name: "Sign out" })).toBeVisible();
    await expect(nav.getByRole("link", { name: "New request", exact: true })).toHaveAttribute(
      "aria-current",
      "page",
    );
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
      390,
    );

    // Escape closes it and gives focus back to its button.
    await page.keyboard.press("Escape");
    await expect(menu).toHaveAttribute("aria-expanded", "false");
    await expect(menu).toBeFocused();

    // Following a link closes it on the new page.
    await menu.click();
    await nav.getByRole("link", { name: "Queue" }).click();
    await expect(page).toHaveURL(/\/queue$/);
    await expect(menu).toHaveAttribute("aria-expanded", "false");
    await expect(nav.getByRole("link", { name: "Queue" })).toBeHidden();
  });
});

test("on a desktop the header shows its links and no menu button", async ({ page }) => {
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto("/history");
  await expect(page.getByRole("button", { name: "Menu" })).toBeHidden();
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Queue" })).toBeVisible();
  await expect(nav.getByRole("button", { name: "Sign out" })).toBeVisible();
});
