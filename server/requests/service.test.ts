import { count } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { events, requests } from "@/server/db/schema";
import { ValidationError } from "@/server/errors";
import { eventsAfter } from "@/server/events/log";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { createRequests, getRequest } from "./service";

let world: TestWorld;
beforeEach(async () => {
  world = await makeWorld();
});
afterEach(() => world.cleanup());

const file = (input: unknown) =>
  createRequests(world.db, { input, requester: world.admin, config: world.config, source: "cli" });
const rowCount = () => world.db.select({ n: count() }).from(requests).get()?.n;
const eventCount = () => world.db.select({ n: count() }).from(events).get()?.n;
const ok = { title: "Cap discounts", description: "At most 50%.", repo: "demo" };

function issuesOf(fn: () => unknown) {
  try {
    fn();
  } catch (e) {
    if (e instanceof ValidationError) return e.issues;
    throw e;
  }
  throw new Error("expected a ValidationError");
}

describe("createRequests", () => {
  it("records a request as received, with an event for live views", () => {
    const [created] = file(ok);
    expect(created).toMatchObject({ id: 1, status: "received", repo: "demo", source: "cli" });
    const [event] = eventsAfter(world.db, "request", 0);
    expect(event).toMatchObject({ type: "request.created", entityId: 1 });
  });

  it("records an array all-or-nothing", () => {
    expect(() => file([ok, { ...ok, title: "" }])).toThrow(ValidationError);
    expect(rowCount()).toBe(0);
    expect(eventCount()).toBe(0);
    expect(file([ok, ok]).map((r) => r.id)).toEqual([1, 2]);
  });

  it("refuses dependsOn naming a missing request, and writes nothing", () => {
    const err = (() => {
      try {
        file([ok, { ...ok, dependsOn: [42] }]);
      } catch (e) {
        return e as ValidationError;
      }
    })();
    expect(err?.issues).toEqual([
      { path: "[1].dependsOn[0]", message: "request 42 does not exist" },
    ]);
    expect(rowCount()).toBe(0);
  });

  it("accepts dependsOn naming an earlier request in the same repository", () => {
    const [first] = file(ok);
    const [second] = file({ ...ok, dependsOn: [first?.id] });
    expect(getRequest(world.db, second?.id ?? 0)?.dependsOn).toEqual([first?.id]);
  });

  it('files a batch whose later items name earlier ones by position ("#0")', () => {
    const [before] = file(ok);
    const created = file([
      ok,
      { ...ok, title: "Two", dependsOn: ["#0"] },
      { ...ok, title: "Three", dependsOn: ["#1", "#0", before?.id] },
    ]);
    const [one, two, three] = created.map((r) => r.id);
    expect(getRequest(world.db, one ?? 0)?.dependsOn).toEqual([]);
    expect(getRequest(world.db, two ?? 0)?.dependsOn).toEqual([one]);
    expect(getRequest(world.db, three ?? 0)?.dependsOn).toEqual([two, one, before?.id]);
  });

  it("refuses positions that point forward, at the item itself or out of range, naming each field, and writes nothing", () => {
    const issues = issuesOf(() =>
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
    expect(rowCount()).toBe(0);
    expect(eventCount()).toBe(0);
  });

  it("refuses a position in a single request, and a value that is neither an id nor a position", () => {
    expect(issuesOf(() => file({ ...ok, dependsOn: ["#0"] }))).toEqual([
      {
        path: "dependsOn[0]",
        message: '"#0" is not an earlier item of this call: it is this request itself',
      },
    ]);
    expect(issuesOf(() => file({ ...ok, dependsOn: ["#3"] }))).toEqual([
      {
        path: "dependsOn[0]",
        message:
          '"#3" is not an earlier item of this call: this call files one request, so there is none to name',
      },
    ]);
    for (const bad of ["0", "#", "#-1", "#01", "# 0", "#1000", 1.5, null])
      expect(issuesOf(() => file([ok, { ...ok, dependsOn: [bad] }]))[0]?.path).toBe(
        "[1].dependsOn[0]",
      );
    expect(issuesOf(() => file([ok, { ...ok, dependsOn: ["x"] }]))).toEqual([
      {
        path: "[1].dependsOn[0]",
        message: 'must be a request id such as 12, or "#0", "#1"… for an earlier item of this call',
      },
    ]);
    expect(rowCount()).toBe(0);
  });

  it("stores HTML and SQL in text fields exactly as given", () => {
    const title = `<img src=x onerror=alert(1)> '); DROP TABLE requests;--`;
    const [created] = file({ ...ok, title });
    expect(getRequest(world.db, created?.id ?? 0)?.title).toBe(title);
    expect(rowCount()).toBe(1);
  });
});
