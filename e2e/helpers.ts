import { type APIRequestContext, expect, type Locator, type Page } from "@playwright/test";
import { execa } from "execa";
import { E2E_DATA } from "../playwright.config";

export async function signInViaApi(request: APIRequestContext, email: string, password: string) {
  const csrf = await request.get("/api/auth/csrf");
  const { csrfToken } = (await csrf.json()) as { csrfToken: string };
  const res = await request.post("/api/auth/callback/credentials", {
    form: { csrfToken, email, password, json: "true" },
  });
  expect(res.ok()).toBe(true);
  const session = await (await request.get("/api/auth/session")).json();
  expect(session?.user?.email).toBe(email);
}

/** Runs the real CLI against the same data directory as the server under test. */
export function hyperion(args: string[], input?: string) {
  return execa("node", ["bin/hyperion.mjs", ...args], {
    env: { HYPERION_DATA: E2E_DATA, HYPERION_NEW_PASSWORD: "e2e-user-password" },
    input,
    reject: false,
  });
}

/**
 * Files one request through the real CLI (as `as`, else the first admin); its id. The tests'
 * requests often name a file to create, so new files are allowed.
 */
export async function fileWithCli(body: Record<string, unknown>, as?: string): Promise<number> {
  const res = await hyperion(
    ["request", "-", "--json", "--allow-new-files", ...(as ? ["--as", as] : [])],
    JSON.stringify(body),
  );
  expect(res.exitCode, res.stderr).toBe(0);
  return (JSON.parse(res.stdout) as [{ id: number }])[0].id;
}

/** Presses Tab until `target` has the focus, at most `max` times, as a keyboard user would. */
export async function tabTo(page: Page, target: Locator, max = 120) {
  for (let i = 0; i < max; i++) {
    if (await target.evaluate((el) => el === document.activeElement)) return;
    await page.keyboard.press("Tab");
  }
  throw new Error(`Tab never reached ${target}`);
}
