import { type APIRequestContext, expect } from "@playwright/test";
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
