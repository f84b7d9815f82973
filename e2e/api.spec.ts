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
