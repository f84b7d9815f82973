import { count } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { events, requestSpecs, requests } from "@/server/db/schema";
import { ValidationError } from "@/server/errors";
import { eventsAfter } from "@/server/events/log";
import { planRequest } from "@/server/planning/plan";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { fileRequests } from "./intake";
import { createRequests, getRequest, newFilesIn } from "./service";

let world: TestWorld;
beforeEach(async () => {
  world = await makeWorld();
});
afterEach(() => world.cleanup());

const file = async (input: unknown) =>
  createRequests(world.db, { input, requester: world.admin, config: world.config, source: "cli" });
const rowCount = async () => (await world.db.select({ n: count() }).from(requests).limit(1))[0]?.n;
const eventCount = async () => (await world.db.select({ n: count() }).from(events).limit(1))[0]?.n;
const ok = { title: "Cap discounts", description: "At most 50%.", repo: "demo" };

describe("createRequests: the policy's named checks", () => {
  it("stores the checks asked for by name; planning adds them to the checks the change runs", async () => {
    const [created] = await file({ ...ok, files: ["docs/guide.md"], checks: ["test", "test"] });
    expect((await getRequest(world.db, created?.id ?? 0))?.checks).toEqual(["test"]);
    await planRequest(world.db, world.config, created?.id ?? 0);
    const spec = (await world.db.select().from(requestSpecs).limit(1))[0]?.spec;
    // The docs area runs no checks of its own; the request's "test" does.
    expect(spec?.checks).toEqual(["test"]);
  });

  it("refuses a check the policy does not name, at checks[i] with the policy's checks, writing nothing", async () => {
    const err = await (async () => {
      try {
        await file([ok, { ...ok, checks: ["test", "npm run lint"] }]);
      } catch (e) {
        return e as ValidationError;
      }
    })();
    expect(err?.issues).toEqual([
      {
        path: "[1].checks[1]",
        message: "'npm run lint' is not a check of repository 'demo'; its checks: test",
      },
    ]);
    expect(await rowCount()).toBe(0);
    expect(await eventCount()).toBe(0);
  });

  it("leaves requests without checks as they were (the field is optional)", async () => {
    const [created] = await file(ok);
    expect((await getRequest(world.db, created?.id ?? 0))?.checks).toEqual([]);
  });
});

async function issuesOf(fn: () => Promise<unknown>) {
  try {
    await fn();
  } catch (e) {
    if (e instanceof ValidationError) return e.issues;
    throw e;
  }
  throw new Error("expected a ValidationError");
}

describe("createRequests", () => {
  it("records a request as received, with an event for live views", async () => {
    const [created] = await file(ok);
    expect(created).toMatchObject({ id: 1, status: "received", repo: "demo", source: "cli" });
    const [event] = await eventsAfter(world.db, "request", 0);
    expect(event).toMatchObject({ type: "request.created", entityId: 1 });
  });

  it("records an array all-or-nothing", async () => {
    await expect((async () => file([ok, { ...ok, title: "" }]))()).rejects.toThrow(ValidationError);
    expect(await rowCount()).toBe(0);
    expect(await eventCount()).toBe(0);
    expect((await file([ok, ok])).map((r) => r.id)).toEqual([1, 2]);
  });

  it("refuses dependsOn naming a missing request, and writes nothing", async () => {
    const err = await (async () => {
      try {
        await file([ok, { ...ok, dependsOn: [42] }]);
      } catch (e) {
        return e as ValidationError;
      }
    })();
    expect(err?.issues).toEqual([
      { path: "[1].dependsOn[0]", message: "request 42 does not exist" },
    ]);
    expect(await rowCount()).toBe(0);
  });

  it("accepts dependsOn naming an earlier request in the same repository", async () => {
    const [first] = await file(ok);
    const [second] = await file({ ...ok, dependsOn: [first?.id] });
    expect((await getRequest(world.db, second?.id ?? 0))?.dependsOn).toEqual([first?.id]);
  });

  it('files a batch whose later items name earlier ones by position ("#0")', async () => {
    const [before] = await file(ok);
    const created = await file([
      ok,
      { ...ok, title: "Two", dependsOn: ["#0"] },
      { ...ok, title: "Three", dependsOn: ["#1", "#0", before?.id] },
    ]);
    const [one, two, three] = created.map((r) => r.id);
    expect((await getRequest(world.db, one ?? 0))?.dependsOn).toEqual([]);
    expect((await getRequest(world.db, two ?? 0))?.dependsOn).toEqual([one]);
    expect((await getRequest(world.db, three ?? 0))?.dependsOn).toEqual([two, one, before?.id]);
  });

  it("refuses positions that point forward, at the item itself or out of range, naming each field, and writes nothing", async () => {
    const issues = await issuesOf(async () =>
      file([
        { ...ok, dependsOn: ["#1"] },
        { ...ok, dependsOn: ["#1"] },
        { ...ok, dependsOn: ["#0", "#7"] },
        { ...ok, dependsOn: ["#2", 99] },
      ]),
    );
    expect(issues).toEqual([
      { path: "[3].dependsOn[1]", message: "request 99 does not exist" },
      {
        path: "[0].dependsOn[0]",
        message:
          '"#1" is not an earlier item of this call: it comes later; put it before the requests that depend on it',
      },
      {
        path: "[1].dependsOn[0]",
        message: '"#1" is not an earlier item of this call: it is this request itself',
      },
      {
        path: "[2].dependsOn[1]",
        message: '"#7" is not an earlier item of this call: this call has 4 requests, #0 to #3',
      },
    ]);
    expect(await rowCount()).toBe(0);
    expect(await eventCount()).toBe(0);
  });

  it("refuses a position in a single request, and a value that is neither an id nor a position", async () => {
    expect(await issuesOf(async () => file({ ...ok, dependsOn: ["#0"] }))).toEqual([
      {
        path: "dependsOn[0]",
        message: '"#0" is not an earlier item of this call: it is this request itself',
      },
    ]);
    expect(await issuesOf(async () => file({ ...ok, dependsOn: ["#3"] }))).toEqual([
      {
        path: "dependsOn[0]",
        message:
          '"#3" is not an earlier item of this call: this call files one request, so there is none to name',
      },
    ]);
    for (const bad of ["0", "#", "#-1", "#01", "# 0", "#1000", 1.5, null])
      expect((await issuesOf(async () => file([ok, { ...ok, dependsOn: [bad] }])))[0]?.path).toBe(
        "[1].dependsOn[0]",
      );
    expect(await issuesOf(async () => file([ok, { ...ok, dependsOn: ["x"] }]))).toEqual([
      {
        path: "[1].dependsOn[0]",
        message:
          'must be a request id (a number such as 12), or "#0", "#1"… for an earlier item of this call',
      },
    ]);
    expect(await rowCount()).toBe(0);
  });

  it("stores HTML and SQL in text fields exactly as given", async () => {
    const title = `<img src=x onerror=alert(1)> '); DROP TABLE requests;--`;
    const [created] = await file({ ...ok, title });
    expect((await getRequest(world.db, created?.id ?? 0))?.title).toBe(title);
    expect(await rowCount()).toBe(1);
  });
});

describe("files the target branch lacks", () => {
  const through = (input: unknown) =>
    fileRequests(world.db, { input, requester: world.admin, config: world.config, source: "api" });
  const refusal = async (input: unknown) => {
    const err = await through(input).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).issues;
  };

  it("refuses a path main does not have, naming files[i], and writes nothing", async () => {
    const issues = await refusal({ ...ok, files: ["src/cart/cart.js", "src/cart/crat.js"] });
    expect(issues).toEqual([
      {
        path: "files[1]",
        message:
          "src/cart/crat.js does not exist on main: check the path, or file the request with allowNewFiles: true to create it",
        code: "new_file",
      },
    ]);
    expect(await rowCount()).toBe(0);
    expect(await eventCount()).toBe(0);
  });

  it("names each item of a batch, with other problems in the same round", async () => {
    const issues = await refusal([
      { ...ok, files: ["docs/guide.md"] },
      { ...ok, files: ["docs/gude.md"], dependsOn: ["#1"] },
    ]);
    expect(issues.map((i) => i.path)).toEqual(["[1].files[0]", "[1].dependsOn[0]"]);
    expect(await rowCount()).toBe(0);
  });

  it("files paths that exist (files and folders) without asking", async () => {
    const [created] = await through({ ...ok, files: ["src/cart/cart.js", "src/pricing"] });
    expect((await getRequest(world.db, created?.id ?? 0))?.files).toEqual([
      "src/cart/cart.js",
      "src/pricing",
    ]);
  });

  it("files a new file when the request says allowNewFiles, which is not stored", async () => {
    const [created] = await through({ ...ok, files: ["src/cart/new.js"], allowNewFiles: true });
    const row = await getRequest(world.db, created?.id ?? 0);
    expect(row?.files).toEqual(["src/cart/new.js"]);
    expect(row).not.toHaveProperty("allowNewFiles");
    // Only the item that says so: the other item of the batch is still checked.
    expect(
      (
        await newFilesIn(world.config, [
          { ...ok, files: ["a.js"], allowNewFiles: true },
          { ...ok, files: ["b.js"] },
        ])
      ).map((f) => f.path),
    ).toEqual(["b.js"]);
  });

  it("still refuses a path outside the repository with allowNewFiles (the path rule)", async () => {
    const issues = await refusal({
      ...ok,
      files: ["../outside.js", "/etc/passwd", ".git/config"],
      allowNewFiles: true,
    });
    expect(issues).toEqual([
      { path: "files[0]", message: "must not contain '..'" },
      { path: "files[1]", message: "must be relative to the repository root, not absolute" },
      { path: "files[2]", message: "must not be inside .git" },
    ]);
    expect(await rowCount()).toBe(0);
  });

  it("refuses allowNewFiles that is not a boolean", async () => {
    expect(await refusal({ ...ok, allowNewFiles: "yes" })).toEqual([
      { path: "allowNewFiles", message: expect.stringContaining("boolean") },
    ]);
  });
});
