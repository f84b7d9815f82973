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
  // A role changes only after the dialog is confirmed; keeping it leaves the stored role.
  const select = row.getByLabel(`Role of ${email}`);
  await select.selectOption("operator");
  const keep = page.getByRole("dialog", { name: `Make ${email} an operator?` });
  await expect(keep).toContainText("From requester to operator");
  await keep.getByRole("button", { name: "Cancel" }).click();
  await expect(keep).toBeHidden();
  await expect(select).toHaveValue("requester");
  await select.selectOption("reviewer");
  const confirm = page.getByRole("dialog", { name: `Make ${email} a reviewer?` });
  await confirm.getByRole("button", { name: "Change role" }).click();
  await expect(page.getByTestId("people-notice")).toHaveText(`${email} is now reviewer.`);
  await expect(select).toHaveValue("reviewer");

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

test("an admin adds a person in the browser; the password is shown once and signs in; bad input is named by field", async ({
  page,
  browser,
}) => {
  const email = `new-${Date.now()}@example.test`;
  await page.goto("/admin/users");
  const form = page.getByRole("region", { name: "Add a person" });

  await form.getByLabel("Email").fill("not an email");
  await form.getByRole("button", { name: "Add person" }).click();
  await expect(form.getByTestId("add-person-errors")).toContainText(
    "Email must be an email address",
  );
  await expect(form.getByLabel("Email")).toHaveAttribute("aria-invalid", "true");

  await form.getByLabel("Email").fill(email);
  await form.getByLabel("Name (optional)").fill("Grace Hopper");
  await form.getByLabel("Role").selectOption("reviewer");
  await form.getByRole("button", { name: "Add person" }).click();
  const added = page.getByTestId("added-person");
  await expect(added).toContainText(`Added ${email}.`);
  const password = (await page.getByTestId("new-password").textContent()) ?? "";
  expect(password.length).toBeGreaterThan(8);
  const row = page.getByTestId("person-row").filter({ hasText: email });
  await expect(row).toContainText("Grace Hopper");
  await expect(row.getByLabel(`Role of ${email}`)).toHaveValue("reviewer");

  // The same email again is refused on the email field, and nothing is added.
  await form.getByLabel("Email").fill(email.toUpperCase());
  await form.getByRole("button", { name: "Add person" }).click();
  await expect(form.getByTestId("add-person-errors")).toContainText(`${email} exists`);
  await expect(page.getByTestId("person-row").filter({ hasText: email })).toHaveCount(1);
  const api = await page.request.post("/api/trpc/user.add", {
    data: { email, role: "requester" },
    headers: { "content-type": "application/json", origin: new URL(page.url()).origin },
  });
  expect(api.status()).toBe(409);

  const other = await browser.newContext({ storageState: { cookies: [], origins: [] } });
  const signIn = await other.newPage();
  await signIn.goto("/signin");
  await signIn.getByLabel("Email").fill(email);
  await signIn.getByLabel("Password").fill(password);
  await signIn.getByRole("button", { name: "Sign in" }).click();
  await expect(signIn).toHaveURL(/\/history$/);
  await expect(signIn.getByText(`${email} · reviewer`)).toBeVisible();
  await other.close();
});
