import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { events, requests } from "@/server/db/schema";
import { ConflictError } from "@/server/errors";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { createRequests } from "../../requests/service";
import { moveRequest } from "./store";

let world: TestWorld;
beforeEach(async () => {
  world = await makeWorld();
});
afterEach(() => world.cleanup());

const file = () =>
  createRequests(world.db, {
    input: { repo: "demo", title: "Add a note", description: "", files: ["docs/guide.md"] },
    requester: world.admin,
    config: world.config,
    source: "cli",
  })[0]?.id ?? 0;
const statusOf = (id: number) =>
  world.db.select().from(requests).where(eq(requests.id, id)).get()?.status;
const statusEvents = () =>
  world.db
    .select()
    .from(events)
    .all()
    .filter((e) => e.type === "request.status")
    .map((e) => e.payload);

describe("a request's one writer", () => {
  it("moves the status with its event, and the reason when there is one", () => {
    const id = file();
    moveRequest(world.db, { id, from: "received", to: "failed", reason: "planning failed: x" });
    expect(statusOf(id)).toBe("failed");
    expect(statusEvents()).toEqual([{ id, status: "failed", reason: "planning failed: x" }]);
  });

  it("refuses a move the table does not list, writing nothing", () => {
    const id = file();
    expect(() => moveRequest(world.db, { id, from: "received", to: "done" })).toThrow(
      "illegal request move received → done",
    );
    expect(statusOf(id)).toBe("received");
    expect(statusEvents()).toEqual([]);
  });

  it("refuses a request that is no longer where the caller read it, writing nothing", () => {
    const id = file();
    moveRequest(world.db, { id, from: "received", to: "cancelled" });
    expect(() => moveRequest(world.db, { id, from: "received", to: "failed" })).toThrow(
      ConflictError,
    );
    expect(statusOf(id)).toBe("cancelled");
    expect(statusEvents()).toHaveLength(1);
  });
});
