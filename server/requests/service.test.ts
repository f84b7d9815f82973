import { count } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { events, requestSpecs, requests } from "@/server/db/schema";
import { ValidationError } from "@/server/errors";
import { eventsAfter } from "@/server/events/log";
import { planRequest } from "@/server/planning/plan";
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

describe("createRequests: the policy's named checks", () => {
  it("stores the checks asked for by name; planning adds them to the checks the change runs", async () => {
    const [created] = file({ ...ok, files: ["docs/guide.md"], checks: ["test", "test"] });
    expect(getRequest(world.db, created?.id ?? 0)?.checks).toEqual(["test"]);
    await planRequest(world.db, world.config, created?.id ?? 0);
    const spec = world.db.select().from(requestSpecs).get()?.spec;
    // The docs area runs no checks of its own; the request's "test" does.
    expect(spec?.checks).toEqual(["test"]);
  });

  it("refuses a check the policy does not name, at checks[i] with the policy's checks, writing nothing", () => {
    const err = (() => {
      try {
        file([ok, { ...ok, checks: ["test", "npm run lint"] }]);
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
    expect(rowCount()).toBe(0);
    expect(eventCount()).toBe(0);
  });

  it("leaves requests without checks as they were (the field is optional)", () => {
    const [created] = file(ok);
    expect(getRequest(world.db, created?.id ?? 0)?.checks).toEqual([]);
  });
});

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

  it("stores HTML and SQL in text fields exactly as given", () => {
    const title = `<img src=x onerror=alert(1)> '); DROP TABLE requests;--`;
    const [created] = file({ ...ok, title });
    expect(getRequest(world.db, created?.id ?? 0)?.title).toBe(title);
    expect(rowCount()).toBe(1);
  });
});
