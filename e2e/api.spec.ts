import { expect, test } from "@playwright/test";
import { hyperion } from "./helpers";

async function token(): Promise<string> {
  const res = await hyperion([
    "token",
    "create",
    "--user",
    "admin@hyperion.local",
    "--name",
    "e2e",
  ]);
  expect(res.exitCode, res.stderr).toBe(0);
  return res.stdout.match(/hyp_\S+/)?.[0] ?? "";
}

test.describe("the API with a bearer token", () => {
  test.use({ storageState: { cookies: [], origins: [] } });

  test("files a request with request.create", async ({ request }) => {
    const auth = { authorization: `Bearer ${await token()}` };
    const res = await request.post("/api/trpc/request.create", {
      headers: auth,
      data: { title: "From a script", description: "", repo: "demo", acceptance: ["npm test"] },
    });
    expect(res.status()).toBe(200);
    const body = await res.json();
    expect(body.result.data[0]).toMatchObject({ title: "From a script", source: "api" });
  });

  test("a file main lacks is a 400 naming files[i] unless the request says allowNewFiles", async ({
    request,
  }) => {
    const auth = { authorization: `Bearer ${await token()}` };
    const title = `New file by script ${Date.now()}`;
    const data = { title, description: "", repo: "demo", files: ["docs/a-new-page.md"] };
    const refused = await request.post("/api/trpc/request.create", { headers: auth, data });
    expect(refused.status()).toBe(400);
    expect((await refused.json()).error.data.issues).toEqual([
      expect.objectContaining({ path: "files[0]", code: "new_file" }),
    ]);
    const filed = await request.post("/api/trpc/request.create", {
      headers: auth,
      data: { ...data, allowNewFiles: true },
    });
    expect(filed.status()).toBe(200);
    expect((await filed.json()).result.data[0]).toMatchObject({ title });
  });

  test("bad input is a 400 naming each field, and nothing is written", async ({ request }) => {
    const auth = { authorization: `Bearer ${await token()}` };
    const before = (await (await request.get("/api/trpc/request.list", { headers: auth })).json())
      .result.data.rows.length;
    const res = await request.post("/api/trpc/request.create", {
      headers: auth,
      data: {
        title: "x",
        description: "",
        repo: "elsewhere",
        files: ["/etc/passwd"],
        sql: "1; DROP",
      },
    });
    expect(res.status()).toBe(400);
    const paths = (await res.json()).error.data.issues.map((i: { path: string }) => i.path);
    expect(paths).toEqual(expect.arrayContaining(["sql", "files[0]"]));
    const after = (await (await request.get("/api/trpc/request.list", { headers: auth })).json())
      .result.data.rows.length;
    expect(after).toBe(before);
  });

  test("an oversized body is a 413", async ({ request }) => {
    const auth = { authorization: `Bearer ${await token()}` };
    const res = await request.post("/api/trpc/request.create", {
      headers: auth,
      data: { title: "big", description: "x".repeat(300 * 1024), repo: "demo" },
    });
    expect(res.status()).toBe(413);
    expect((await res.json()).error.message).toContain("HYPERION_MAX_BODY_BYTES");
  });

  test("malformed JSON is a 400", async ({ request }) => {
    const auth = { authorization: `Bearer ${await token()}`, "content-type": "application/json" };
    const res = await request.post("/api/trpc/request.create", { headers: auth, data: "{ nope" });
    expect(res.status()).toBe(400);
  });

  test("a wrong token is a 401", async ({ request }) => {
    const res = await request.get("/api/trpc/request.list", {
      headers: { authorization: "Bearer hyp_wrong" },
    });
    expect(res.status()).toBe(401);
  });
});

test.describe("hostile input over HTTP", () => {
  test.use({ storageState: { cookies: [], origins: [] } });

  test("a live view with a non-numeric lastEventId is a 400 naming it, not a silent stream", async ({
    request,
  }) => {
    const auth = { authorization: `Bearer ${await token()}` };
    for (const query of [
      `input=${encodeURIComponent(JSON.stringify({ lastEventId: "abc" }))}`,
      "lastEventId=1%3B%20DROP",
    ]) {
      const res = await request.get(`/api/trpc/request.live?${query}`, { headers: auth });
      expect(res.status()).toBe(400);
      expect((await res.json()).error.data.issues).toEqual([
        { path: "lastEventId", message: "must be an event id (digits only)" },
      ]);
    }
  });

  test("acceptance commands are filed as words and never run", async ({ request }) => {
    const auth = { authorization: `Bearer ${await token()}` };
    const res = await request.post("/api/trpc/request.create", {
      headers: auth,
      data: {
        title: "Sneaky",
        description: "",
        repo: "demo",
        files: ["docs/guide.md"],
        acceptance: ["sh -c id>/tmp/hyperion-e2e-pwned"],
      },
    });
    expect(res.status()).toBe(200);
    const id = (await res.json()).result.data[0].id;
    await expect
      .poll(
        async () =>
          (
            await (
              await request.get(
                `/api/trpc/request.detail?input=${encodeURIComponent(JSON.stringify({ id }))}`,
                { headers: auth },
              )
            ).json()
          ).result.data.request.status,
        { timeout: 30_000 },
      )
      .toBe("done");
    const { existsSync } = await import("node:fs");
    expect(existsSync("/tmp/hyperion-e2e-pwned")).toBe(false);
  });
});

test("a signed-in user is never sent to another site by callbackUrl", async ({ page, baseURL }) => {
  for (const callback of [
    "%2F%5Cevil.example",
    "%2F%09%2Fevil.example",
    "https%3A%2F%2Fevil.example",
    "%2F%2Fevil.example",
    "%0A",
  ]) {
    const res = await page.goto(`/signin?callbackUrl=${callback}`);
    expect(res?.status(), callback).toBeLessThan(500);
    expect(new URL(page.url()).host, callback).toBe(new URL(baseURL ?? "").host);
  }
});
