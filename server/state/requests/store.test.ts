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

const file = async () =>
  (
    await createRequests(world.db, {
      input: { repo: "demo", title: "Add a note", description: "", files: ["docs/guide.md"] },
      requester: world.admin,
      config: world.config,
      source: "cli",
    })
  )[0]?.id ?? 0;
const statusOf = async (id: number) =>
  (await world.db.select().from(requests).where(eq(requests.id, id)).limit(1))[0]?.status;
const statusEvents = async () =>
  (await world.db.select().from(events))
    .filter((e) => e.type === "request.status")
    .map((e) => e.payload);

describe("a request's one writer", () => {
  it("moves the status with its event, and the reason when there is one", async () => {
    const id = await file();
    await moveRequest(world.db, {
      id,
      from: "received",
      to: "failed",
      reason: "planning failed: x",
    });
    expect(await statusOf(id)).toBe("failed");
    expect(await statusEvents()).toEqual([{ id, status: "failed", reason: "planning failed: x" }]);
  });

  it("refuses a move the table does not list, writing nothing", async () => {
    const id = await file();
    await expect(
      (async () => moveRequest(world.db, { id, from: "received", to: "done" }))(),
    ).rejects.toThrow("illegal request move received → done");
    expect(await statusOf(id)).toBe("received");
    expect(await statusEvents()).toEqual([]);
  });

  it("refuses a request that is no longer where the caller read it, writing nothing", async () => {
    const id = await file();
    await moveRequest(world.db, { id, from: "received", to: "cancelled" });
    await expect(
      (async () => moveRequest(world.db, { id, from: "received", to: "failed" }))(),
    ).rejects.toThrow(ConflictError);
    expect(await statusOf(id)).toBe("cancelled");
    expect(await statusEvents()).toHaveLength(1);
  });
});
