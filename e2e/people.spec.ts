import { expect, test } from "@playwright/test";
import { hyperion } from "./helpers";

// An admin manages people in the browser: a role change, a password reset shown once (the old
// password refused afterwards), and the last admin protected.

test("an admin changes a role and resets a password; the old password is refused", async ({
  page,
  browser,
}) => {
  const email = `pat-${Date.now()}@example.test`;
  const added = await hyperion(["user", "add", email, "--role", "requester"]);
  expect(added.exitCode, added.stderr).toBe(0);

  await page.goto("/admin/users");
  const row = page.getByTestId("person-row").filter({ hasText: email });
  await row.getByLabel(`Role of ${email}`).selectOption("reviewer");
  await expect(page.getByTestId("people-notice")).toHaveText(`${email} is now reviewer.`);

  await row.getByRole("button", { name: "Reset password" }).click();
  const dialog = page.getByRole("dialog", { name: `Reset ${email}'s password?` });
  await expect(dialog).toContainText("the old one stops working");
  await dialog.getByRole("button", { name: "Reset password" }).click();
  const notice = page.getByTestId("people-notice");
  await expect(notice).toContainText(`New password for ${email}: `);
  const password = /: (\S+) \(shown once\)/.exec((await notice.textContent()) ?? "")?.[1] ?? "";
  expect(password.length).toBeGreaterThan(8);

  const other = await browser.newContext({ storageState: { cookies: [], origins: [] } });
  const signIn = await other.newPage();
  await signIn.goto("/signin");
  await signIn.getByLabel("Email").fill(email);
  await signIn.getByLabel("Password").fill("e2e-user-password");
  await signIn.getByRole("button", { name: "Sign in" }).click();
  await expect(signIn).toHaveURL(/\/signin/);
  await signIn.getByLabel("Password").fill(password);
  await signIn.getByRole("button", { name: "Sign in" }).click();
  await expect(signIn).toHaveURL(/\/history$/);
  await expect(signIn.getByText(`${email} · reviewer`)).toBeVisible();
  await other.close();

  // The last admin cannot be disabled: the dialog shows the server's refusal.
  const admin = page.getByTestId("person-row").filter({ hasText: "admin@hyperion.local" });
  await admin.getByRole("button", { name: "Disable" }).click();
  const refuse = page.getByRole("dialog", { name: "Disable admin@hyperion.local?" });
  await refuse.getByRole("button", { name: "Disable" }).click();
  await expect(refuse.getByRole("alert")).toContainText("is the last admin");
});
