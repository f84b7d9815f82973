import fs from "node:fs";
import path from "node:path";
import { expect, test as setup } from "@playwright/test";
import { ADMIN, ADMIN_STATE } from "../playwright.config";
import { signInViaApi } from "./helpers";

// Sign in through next-auth's endpoints rather than the form, and save the session for the
// other tests; the form itself has its own test.
setup("sign in as admin", async ({ request }) => {
  await signInViaApi(request, ADMIN.email, ADMIN.password);
  const me = await request.get("/api/trpc/user.me");
  expect(me.ok()).toBe(true);
  fs.mkdirSync(path.dirname(ADMIN_STATE), { recursive: true });
  await request.storageState({ path: ADMIN_STATE });
});
